import CModelHostPlugin
import ModelHostCore
import ModelManifest
import Synchronization

/// One created instance of a plugin: the handle `create` returned and the calls it accepts.
///
/// Every method runs plugin code and blocks until it returns, so each must be called only on a
/// thread the host owns for the instance's version (the Scheduler's), never on Swift's
/// cooperative pool or an event loop, and never by more threads at once than the manifest's
/// `limits.maxConcurrency`. The owner calls ``destroy()`` exactly once, when no call is running;
/// nothing is released from `deinit`.
public final class PluginInstance: @unchecked Sendable {
    // Safe: `library` and `handle` are immutable after init and only passed to the plugin, whose
    // thread-safety the owner respects (see the type's documentation); `isDestroyed` is atomic.
    private let library: PluginLibrary
    private let handle: UnsafeMutableRawPointer
    private let declaredOutputs: [TensorSpec]
    private let isDestroyed = Atomic<Bool>(false)

    /// The model's name.
    public let name: String
    /// The model's version.
    public let version: SemanticVersion

    /// Whether the plugin accepts batched calls (ABI 1.1).
    public var supportsBatching: Bool { library.supportsBatching }

    private init(library: PluginLibrary, handle: UnsafeMutableRawPointer, manifest: Manifest) {
        self.library = library
        self.handle = handle
        self.declaredOutputs = manifest.outputs
        self.name = manifest.name
        self.version = manifest.version
    }

    /// Calls the plugin's `create` on the current thread.
    ///
    /// - Throws: ``BundleError`` with ``BundleError/Code/createFailed`` and the plugin's message,
    ///   transient (``BundleError/isTransient``) when the plugin returned `MH_ERROR_UNAVAILABLE`.
    static func create(library: PluginLibrary, bundle: BundleVerifier.VerifiedBundle) throws(BundleError) -> PluginInstance {
        let manifest = bundle.manifest
        let config = manifest.config.jsonText
        var error = mh_error()
        var instance: UnsafeMutableRawPointer?
        let status = config.withCString { json in
            bundle.directory.withCString { path in
                library.api.create(json, config.utf8.count, path, &instance, &error)
            }
        }
        guard status == MH_OK, let instance else {
            let message = status == MH_OK ? "create reported success but returned no instance" : error.text
            throw BundleError(
                .createFailed, bundle: bundle.directory, "plugin \"\(manifest.name)\" failed to create an instance: \(message)",
                isTransient: status == MH_ERROR_UNAVAILABLE
            )
        }
        return PluginInstance(library: library, handle: instance, manifest: manifest)
    }

    /// Runs one inference on the current thread.
    ///
    /// - Parameters:
    ///   - inputs: The request's tensors.
    ///   - context: The call's deadline and cancellation flag, for ABI 1.1 plugins.
    /// - Returns: The plugin's outputs, checked for a well-formed layout and against the
    ///   manifest's outputs; or ``ModelHostError`` with code
    ///   ``ModelHostError/Code/pluginRefusedInput`` (the plugin refused the input),
    ///   ``ModelHostError/Code/unavailable`` (the plugin says transient) or
    ///   ``ModelHostError/Code/pluginError`` (it failed, or wrote invalid outputs).
    public func infer(_ inputs: [Tensor], context: PluginCallContext) -> Result<[Tensor], ModelHostError> {
        let version = version.description
        let collector = OutputCollector(declaredOutputs: declaredOutputs)
        var sink = collector.makeSink()
        var error = mh_error()
        let status = Self.withRawTensors(inputs) { raw in
            raw.withUnsafeBufferPointer { tensors in
                if let inferWithContext = library.api.infer_with_context {
                    return context.withRawContext { call in
                        inferWithContext(handle, call, tensors.baseAddress, tensors.count, &sink, &error)
                    }
                }
                return library.api.infer(handle, tensors.baseAddress, tensors.count, &sink, &error)
            }
        }
        // A refused output is the plugin's fault whatever status it then returned.
        if let refusal = collector.refusal {
            return .failure(ModelHostError(.pluginError, "model \"\(name)\" wrote an invalid output: \(refusal)", modelVersion: version))
        }
        switch status {
        case MH_OK:
            do {
                return .success(try collector.tensors())
            } catch {
                return .failure(ModelHostError(.pluginError, "model \"\(name)\" wrote an invalid output: \(error)", modelVersion: version))
            }
        case MH_ERROR_INVALID_INPUT:
            return .failure(ModelHostError(.pluginRefusedInput, "model \"\(name)\" refused the input: \(error.text)", modelVersion: version))
        case MH_ERROR_UNAVAILABLE:
            return .failure(ModelHostError(.unavailable, "model \"\(name)\" is temporarily unavailable: \(error.text)", modelVersion: version))
        default:
            return .failure(ModelHostError(.pluginError, "model \"\(name)\" failed: \(error.text)", modelVersion: version))
        }
    }

    /// Calls the plugin's `destroy` on the current thread; later calls do nothing.
    public func destroy() {
        guard !isDestroyed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        library.api.destroy(handle)
    }

    /// Presents `tensors` as `mh_tensor` views valid for the duration of `body`.
    private static func withRawTensors<Result>(_ tensors: [Tensor], _ body: ([mh_tensor]) -> Result) -> Result {
        var raw: [mh_tensor] = []
        raw.reserveCapacity(tensors.count)
        let shapes = tensors.map { $0.shape.map(Int64.init) }
        func nest(_ index: Int) -> Result {
            guard index < tensors.count else { return body(raw) }
            let tensor = tensors[index]
            return tensor.name.withCString { name in
                shapes[index].withUnsafeBufferPointer { shape in
                    tensor.data.withUnsafeBytes { data in
                        raw.append(mh_tensor(name: name, datatype: tensor.datatype.abiCode, shape: shape.baseAddress, rank: shape.count, data: data.baseAddress, byte_size: data.count))
                        return nest(index + 1)
                    }
                }
            }
        }
        return nest(0)
    }
}

extension mh_error {
    /// The message the plugin wrote, or a placeholder when it wrote none.
    var text: String {
        var copy = self
        let message = withUnsafeBytes(of: &copy.message) { bytes in
            let length = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<length], as: UTF8.self)
        }
        return message.isEmpty ? "(no message)" : message
    }
}
