import CModelHostPlugin
import Foundation
import PluginKit
import Testing

/// A plugin that doubles FP64 input "x" into output "y", and fails on request.
private struct Doubler: ModelPlugin {
    let factor: Double

    private struct Configuration: Decodable {
        var factor: Double
        var failCreate: Bool?
    }

    init(context: PluginContext) throws {
        let configuration = try context.decodeConfiguration(Configuration.self)
        if configuration.failCreate == true { throw PluginError(.internal, "asked to fail: ünïcödé") }
        factor = configuration.factor
    }

    func infer(_ inputs: [Tensor]) throws -> [Tensor] {
        let x = try inputs.named("x")
        guard x.datatype == .fp64 else { throw PluginError(.invalidInput, "x must be FP64") }
        if x.shape == [0] { throw PluginError(.unavailable, "try again") }
        if x.shape == [9] { throw CancellationError() }
        let values = x.data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }.map { $0 * factor }
        return [try Tensor(name: "y", datatype: .fp64, shape: x.shape, data: values.withUnsafeBytes { Array($0) })]
    }
}

/// Collects outputs the way the host does, in buffers it owns.
private final class Sink {
    var outputs: [(name: String, datatype: Int32, shape: [Int64], bytes: UnsafeMutableRawBufferPointer)] = []

    deinit { outputs.forEach { $0.bytes.deallocate() } }

    func make() -> mh_output_sink {
        mh_output_sink(host_context: Unmanaged.passUnretained(self).toOpaque(), allocate_output: { context, name, datatype, shape, rank, size in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 16)
            sink.outputs.append((String(cString: name!), datatype, (0..<rank).map { shape![$0] }, buffer))
            return buffer.baseAddress
        })
    }
}

// Serialized: the registered plugin type is per library, and one test registers another type.
@Suite(.serialized) struct PluginExportTests {
    private let api = PluginExport.table(for: Doubler.self).assumingMemoryBound(to: mh_plugin_api.self).pointee

    private func create(_ config: String) -> (mh_status, UnsafeMutableRawPointer?, String) {
        var instance: UnsafeMutableRawPointer?
        var error = mh_error()
        let status = config.withCString { api.create($0, config.utf8.count, "/tmp", &instance, &error) }
        let message = withUnsafeBytes(of: &error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return (status, instance, message)
    }

    private func infer(_ instance: UnsafeMutableRawPointer, values: [Double], datatype: Int32 = Int32(MH_DATATYPE_FP64.rawValue)) -> (mh_status, Sink, String) {
        let sink = Sink()
        var raw = sink.make()
        var error = mh_error()
        let shape: [Int64] = [Int64(values.count)]
        let status = values.withUnsafeBytes { data in
            shape.withUnsafeBufferPointer { dimensions in
                "x".withCString { name in
                    var tensor = mh_tensor(name: name, datatype: datatype, shape: dimensions.baseAddress, rank: 1, data: data.baseAddress, byte_size: data.count)
                    return api.infer(instance, &tensor, 1, &raw, &error)
                }
            }
        }
        let message = withUnsafeBytes(of: &error.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return (status, sink, message)
    }

    @Test func tableCarriesTheABIVersion() {
        #expect(api.abi_version_major == UInt32(MH_ABI_VERSION_MAJOR))
        #expect(api.struct_size == UInt32(MemoryLayout<mh_plugin_api>.size))
    }

    @Test func createInferDestroyRoundTrip() throws {
        let (status, instance, _) = create(#"{"factor": 3}"#)
        #expect(status == MH_OK)
        let handle = try #require(instance)
        defer { api.destroy(handle) }
        let (inferStatus, sink, _) = infer(handle, values: [1, 2.5])
        #expect(inferStatus == MH_OK)
        let output = try #require(sink.outputs.first)
        #expect(output.name == "y")
        #expect(output.datatype == Int32(MH_DATATYPE_FP64.rawValue))
        #expect(output.shape == [2])
        #expect(Array(output.bytes.bindMemory(to: Double.self).prefix(2)) == [3, 7.5])
    }

    @Test func createFailureCarriesTheMessageAsValidUTF8() {
        let (status, instance, message) = create(#"{"factor": 1, "failCreate": true}"#)
        #expect(status == MH_ERROR_INTERNAL)
        #expect(instance == nil)
        #expect(message == "asked to fail: ünïcödé")
        let (badStatus, _, badMessage) = create(#"{"factor": "x"}"#)
        #expect(badStatus == MH_ERROR_INTERNAL)
        #expect(badMessage.hasPrefix("config:"))
    }

    @Test func errorClassesMapToStatuses() throws {
        let (_, instance, _) = create(#"{"factor": 2}"#)
        let handle = try #require(instance)
        defer { api.destroy(handle) }
        #expect(infer(handle, values: [1], datatype: Int32(MH_DATATYPE_FP32.rawValue)).0 == MH_ERROR_INVALID_INPUT)
        #expect(infer(handle, values: [1], datatype: Int32(MH_DATATYPE_INT64.rawValue)).2 == "x must be FP64")
        #expect(infer(handle, values: []).0 == MH_ERROR_UNAVAILABLE)
        #expect(infer(handle, values: Array(repeating: 1, count: 9)).0 == MH_ERROR_INTERNAL)
        #expect(infer(handle, values: [1], datatype: 99).0 == MH_ERROR_INVALID_INPUT)
    }

    @Test func longMessagesAreCutOnACharacterBoundary() throws {
        struct Verbose: ModelPlugin {
            init(context: PluginContext) throws { throw PluginError(.internal, String(repeating: "é", count: 2000)) }
            func infer(_ inputs: [Tensor]) throws -> [Tensor] { [] }
        }
        let table = PluginExport.table(for: Verbose.self).assumingMemoryBound(to: mh_plugin_api.self).pointee
        defer { _ = PluginExport.table(for: Doubler.self) }
        var instance: UnsafeMutableRawPointer?
        var error = mh_error()
        _ = table.create("{}", 2, "/tmp", &instance, &error)
        let bytes = withUnsafeBytes(of: &error.message) { Array($0.prefix { $0 != 0 }) }
        #expect(bytes.count <= Int(MH_ERROR_MESSAGE_CAPACITY) - 1)
        #expect(bytes.count % 2 == 0)
        #expect(String(validating: bytes, as: UTF8.self) != nil)
    }

    @Test func theTableIsABI11AndItsCapabilitiesFollowTheModel() {
        #expect(api.abi_version_minor == 1)
        #expect(api.infer_with_context != nil)
        #expect(api.capabilities & UInt64(MH_CAPABILITY_BATCHING) == 0)
        struct Batched: ModelPlugin {
            static var supportsBatching: Bool { true }
            init(context: PluginContext) throws {}
            func infer(_ inputs: [Tensor]) throws -> [Tensor] { inputs }
        }
        let batched = PluginExport.table(for: Batched.self).assumingMemoryBound(to: mh_plugin_api.self).pointee
        #expect(batched.capabilities & UInt64(MH_CAPABILITY_BATCHING) != 0)
        let plain = PluginExport.table(for: Doubler.self).assumingMemoryBound(to: mh_plugin_api.self).pointee
        #expect(plain.capabilities & UInt64(MH_CAPABILITY_BATCHING) == 0)
    }

    @Test func aModelSeesItsDeadlineAndCancellationThroughTheContext() throws {
        /// Reports whether the call is cancelled (1 or 0) and the milliseconds left (-1 for none).
        struct Watcher: ModelPlugin {
            init(context: PluginContext) throws {}
            func infer(_ inputs: [Tensor], context: InferenceContext) throws -> [Tensor] {
                let left = context.timeRemaining.map { Int64($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? -1
                let values: [Int64] = [context.isCancelled ? 1 : 0, left]
                return [try Tensor(name: "report", datatype: .int64, shape: [2], data: values.withUnsafeBytes { Array($0) })]
            }
        }
        let table = PluginExport.table(for: Watcher.self).assumingMemoryBound(to: mh_plugin_api.self).pointee
        defer { _ = PluginExport.table(for: Doubler.self) }
        var instance: UnsafeMutableRawPointer?
        var error = mh_error()
        #expect(table.create("{}", 2, "/tmp", &instance, &error) == MH_OK)
        let handle = try #require(instance)
        defer { table.destroy(handle) }

        func call(cancelled: Bool, deadline: Int64) throws -> [Int64] {
            let sink = Sink()
            var raw = sink.make()
            var context = mh_call_context()
            context.struct_size = UInt32(MemoryLayout<mh_call_context>.size)
            context.deadline_ns = deadline
            if cancelled {
                context.is_cancelled = { _ in 1 }
            } else {
                context.is_cancelled = { _ in 0 }
            }
            let status = table.infer_with_context(handle, &context, nil, 0, &raw, &error)
            #expect(status == MH_OK)
            let output = try #require(sink.outputs.first)
            return Array(output.bytes.bindMemory(to: Int64.self).prefix(2))
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let inTwoSeconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) + 2_000_000_000
        let waiting = try call(cancelled: false, deadline: inTwoSeconds)
        #expect(waiting[0] == 0)
        #expect(waiting[1] > 1000 && waiting[1] <= 2000)
        let abandoned = try call(cancelled: true, deadline: Int64.max)  // MH_NO_DEADLINE
        #expect(abandoned == [1, -1])
    }
}
