import CModelHostPlugin
import Foundation
import ModelHostCore
import ModelManifest

/// One created instance of a plugin, with the threads its code runs on.
///
/// ``infer(_:)`` hands the call to the instance's own threads and suspends the caller until it
/// returns, so no Swift concurrency thread ever blocks in plugin code. The instance is destroyed,
/// on those threads, when the last reference goes.
public final class PluginInstance: @unchecked Sendable {
    // Safe: `library` and `handle` are immutable after init; the plugin's own thread-safety is
    // respected because only `pool` (maxConcurrency threads) ever calls into it.
    private let library: PluginLibrary
    private let handle: UnsafeMutableRawPointer
    private let pool: PluginThreadPool

    /// The model's name.
    public let name: String
    /// The model's version.
    public let version: SemanticVersion

    private init(library: PluginLibrary, handle: UnsafeMutableRawPointer, pool: PluginThreadPool, manifest: Manifest) {
        self.library = library
        self.handle = handle
        self.pool = pool
        self.name = manifest.name
        self.version = manifest.version
    }

    deinit {
        let destroy = library.api.destroy
        let handle = UncheckedPointer(handle)
        let pool = pool
        if !pool.submit({ destroy?(handle.pointer) }) {
            destroy?(handle.pointer)
        }
        pool.shutdown()
    }

    /// Creates an instance on a fresh thread pool sized by the manifest's `limits`.
    static func create(library: PluginLibrary, bundle: BundleVerifier.VerifiedBundle) async throws(BundleError) -> PluginInstance {
        let manifest = bundle.manifest
        let pool = PluginThreadPool(
            label: "mh-\(manifest.name)",
            threadCount: manifest.limits.maxConcurrency,
            queueCapacity: manifest.limits.maxQueue
        )
        let config = manifest.config.jsonText
        let directory = bundle.directory
        let api = library.api
        let outcome: Result<UncheckedPointer, BundleError> = await withCheckedContinuation { continuation in
            let accepted = pool.submit {
                var error = mh_error()
                var instance: UnsafeMutableRawPointer?
                let status = config.withCString { json in
                    directory.withCString { path in
                        api.create(json, config.utf8.count, path, &instance, &error)
                    }
                }
                if status == MH_OK, let instance {
                    continuation.resume(returning: .success(UncheckedPointer(instance)))
                } else {
                    let message = status == MH_OK ? "create reported success but returned no instance" : error.text
                    continuation.resume(returning: .failure(BundleError(.createFailed, bundle: directory, "plugin \"\(manifest.name)\" failed to create an instance: \(message)")))
                }
            }
            if !accepted {
                continuation.resume(returning: .failure(BundleError(.createFailed, bundle: directory, "the plugin's threads refused the create call")))
            }
        }
        switch outcome {
        case .success(let handle):
            return PluginInstance(library: library, handle: handle.pointer, pool: pool, manifest: manifest)
        case .failure(let error):
            pool.shutdown()
            throw error
        }
    }

    /// Runs one inference on the instance's threads.
    ///
    /// - Parameter inputs: The request's tensors.
    /// - Returns: The plugin's output tensors, checked for a well-formed layout.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/validation`` (the plugin
    ///   refused the input), ``ModelHostError/Code/unavailable`` (transient, or the queue is full)
    ///   or ``ModelHostError/Code/pluginError``.
    public func infer(_ inputs: [Tensor]) async throws(ModelHostError) -> [Tensor] {
        let version = version.description
        let result: Result<[Tensor], ModelHostError> = await withCheckedContinuation { continuation in
            let accepted = pool.submit { [self] in
                continuation.resume(returning: self.runInfer(inputs))
            }
            if !accepted {
                continuation.resume(returning: .failure(ModelHostError(.unavailable, "model \"\(self.name)\" is overloaded: its queue is full", modelVersion: version)))
            }
        }
        return try result.get()
    }

    /// Calls the plugin; runs on one of the pool's threads.
    private func runInfer(_ inputs: [Tensor]) -> Result<[Tensor], ModelHostError> {
        let version = version.description
        let collector = OutputCollector()
        var sink = collector.makeSink()
        var error = mh_error()
        let status = Self.withRawTensors(inputs) { raw in
            raw.withUnsafeBufferPointer { tensors in
                library.api.infer(handle, tensors.baseAddress, tensors.count, &sink, &error)
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
            return .failure(ModelHostError(.validation, "model \"\(name)\" refused the input: \(error.text)", modelVersion: version))
        case MH_ERROR_UNAVAILABLE:
            return .failure(ModelHostError(.unavailable, "model \"\(name)\" is temporarily unavailable: \(error.text)", modelVersion: version))
        default:
            return .failure(ModelHostError(.pluginError, "model \"\(name)\" failed: \(error.text)", modelVersion: version))
        }
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

/// A raw pointer handed between threads; the plugin ABI's thread-safety rules make that safe.
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
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
