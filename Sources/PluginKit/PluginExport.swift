import CModelHostPlugin
import Foundation
import Synchronization

/// Exports a ``ModelPlugin`` type through the C plugin ABI.
///
/// All pointer work between the ABI and Swift lives here, once. Each plugin library links its own
/// copy of PluginKit, so the registered type is per library.
public enum PluginExport {
    /// Registers `type` as this library's model and returns the ABI table for the entry symbol.
    ///
    /// The table is ABI 1.1: calls arrive through `infer_with_context`, and the
    /// `MH_CAPABILITY_BATCHING` bit follows ``ModelPlugin/supportsBatching``.
    public static func table<Plugin: ModelPlugin>(for type: Plugin.Type) -> UnsafeRawPointer {
        registeredType.withLock { $0 = type }
        if type.supportsBatching {
            apiTable.pointee.capabilities |= UInt64(MH_CAPABILITY_BATCHING)
        } else {
            apiTable.pointee.capabilities &= ~UInt64(MH_CAPABILITY_BATCHING)
        }
        return UnsafeRawPointer(apiTable)
    }

    private static let registeredType = Mutex<(any ModelPlugin.Type)?>(nil)

    // Safe: Swift initialises a static `let` exactly once, thread-safely. The table is written
    // only by `table(for:)`, which the entry symbol calls once, before the host reads it; the
    // host calls the entry and reads the table on one thread.
    nonisolated(unsafe) private static let apiTable: UnsafeMutablePointer<mh_plugin_api> = {
        let table = UnsafeMutablePointer<mh_plugin_api>.allocate(capacity: 1)
        table.initialize(
            to: mh_plugin_api(
                abi_version_major: UInt32(MH_ABI_VERSION_MAJOR),
                abi_version_minor: UInt32(MH_ABI_VERSION_MINOR),
                struct_size: UInt32(MemoryLayout<mh_plugin_api>.size),
                create: { configuration, length, directory, instance, errorSlot in
                    PluginExport.create(configuration, length, directory, instance, errorSlot)
                },
                infer: { instance, inputs, count, sink, errorSlot in
                    PluginExport.infer(instance, nil, inputs, count, sink, errorSlot)
                },
                destroy: { instance in
                    guard let instance else { return }
                    Unmanaged<InstanceBox>.fromOpaque(instance).release()
                },
                capabilities: 0,
                infer_with_context: { instance, context, inputs, count, sink, errorSlot in
                    PluginExport.infer(instance, context, inputs, count, sink, errorSlot)
                }
            )
        )
        return table
    }()

    private final class InstanceBox {
        let plugin: any ModelPlugin
        init(_ plugin: any ModelPlugin) { self.plugin = plugin }
    }

    private static func create(
        _ configuration: UnsafePointer<CChar>?,
        _ length: Int,
        _ directory: UnsafePointer<CChar>?,
        _ instance: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        _ errorSlot: UnsafeMutablePointer<mh_error>?
    ) -> mh_status {
        guard let type = registeredType.withLock({ $0 }) else {
            return fail(errorSlot, .internal, "PluginKit: no plugin type was registered")
        }
        guard let instance, let directory else {
            return fail(errorSlot, .internal, "PluginKit: create was called without an instance slot or bundle directory")
        }
        let data = configuration.map { Data(bytes: $0, count: length) } ?? Data("{}".utf8)
        let context = PluginContext(
            configuration: data,
            bundleDirectory: URL(fileURLWithPath: String(cString: directory), isDirectory: true)
        )
        do {
            let plugin = try type.init(context: context)
            instance.pointee = Unmanaged.passRetained(InstanceBox(plugin)).toOpaque()
            return MH_OK
        } catch {
            return fail(errorSlot, error)
        }
    }

    private static func infer(
        _ instance: UnsafeMutableRawPointer?,
        _ context: UnsafePointer<mh_call_context>?,
        _ inputs: UnsafePointer<mh_tensor>?,
        _ count: Int,
        _ sink: UnsafePointer<mh_output_sink>?,
        _ errorSlot: UnsafeMutablePointer<mh_error>?
    ) -> mh_status {
        guard let instance, let sink else {
            return fail(errorSlot, .internal, "PluginKit: infer was called without an instance or output sink")
        }
        let box = Unmanaged<InstanceBox>.fromOpaque(instance).takeUnretainedValue()
        do {
            guard count == 0 || inputs != nil else {
                throw PluginError(.invalidInput, "infer was called with \(count) inputs and no input array")
            }
            let tensors = try (0..<count).map { index in try makeTensor(inputs![index]) }
            let outputs = try box.plugin.infer(tensors, context: InferenceContext(context))
            for output in outputs {
                try write(output, to: sink.pointee)
            }
            return MH_OK
        } catch {
            return fail(errorSlot, error)
        }
    }

    private static func makeTensor(_ raw: mh_tensor) throws -> Tensor {
        let name = raw.name.map { String(cString: $0) } ?? ""
        guard let datatype = Datatype(abiCode: raw.datatype) else {
            throw PluginError(.invalidInput, "input \"\(name)\" has unknown datatype code \(raw.datatype)")
        }
        guard raw.rank == 0 || raw.shape != nil, raw.byte_size == 0 || raw.data != nil else {
            throw PluginError(.invalidInput, "input \"\(name)\" has a NULL shape or data pointer")
        }
        let shape = (0..<raw.rank).map { Int(raw.shape[$0]) }
        let data = raw.byte_size == 0 ? [] : Array(UnsafeRawBufferPointer(start: raw.data, count: raw.byte_size))
        do {
            return try Tensor(name: name, datatype: datatype, shape: shape, data: data)
        } catch {
            throw PluginError(.invalidInput, error.description)
        }
    }

    private static func write(_ tensor: Tensor, to sink: mh_output_sink) throws {
        let shape = tensor.shape.map(Int64.init)
        let buffer = tensor.name.withCString { name in
            shape.withUnsafeBufferPointer { dimensions in
                sink.allocate_output(sink.host_context, name, tensor.datatype.abiCode, dimensions.baseAddress, shape.count, tensor.data.count)
            }
        }
        guard let buffer else {
            throw PluginError(.internal, "the host refused output \"\(tensor.name)\"")
        }
        tensor.data.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { buffer.copyMemory(from: base, byteCount: bytes.count) }
        }
    }

    private static func fail(_ slot: UnsafeMutablePointer<mh_error>?, _ error: any Error) -> mh_status {
        if let pluginError = error as? PluginError {
            return fail(slot, pluginError.kind, pluginError.message)
        }
        return fail(slot, .internal, String(describing: error))
    }

    private static func fail(_ slot: UnsafeMutablePointer<mh_error>?, _ kind: PluginError.Kind, _ message: String) -> mh_status {
        if let slot {
            withUnsafeMutableBytes(of: &slot.pointee.message) { buffer in
                // Cut on a character boundary, so the message stays valid UTF-8.
                var bytes: [UInt8] = []
                for character in message {
                    let encoded = Array(String(character).utf8)
                    if bytes.count + encoded.count > buffer.count - 1 { break }
                    bytes.append(contentsOf: encoded)
                }
                buffer.copyBytes(from: bytes)
                buffer[bytes.count] = 0
            }
        }
        switch kind {
        case .invalidInput: return MH_ERROR_INVALID_INPUT
        case .unavailable: return MH_ERROR_UNAVAILABLE
        case .internal: return MH_ERROR_INTERNAL
        }
    }
}
