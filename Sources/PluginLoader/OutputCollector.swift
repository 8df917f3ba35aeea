import CModelHostPlugin
import ModelHostCore

/// Receives a plugin's outputs through the ABI's `mh_output_sink`, in host-owned buffers.
///
/// The host allocates every buffer and frees all of them when the collector is done, so a plugin
/// can neither leak output memory nor free it twice.
final class OutputCollector {
    private struct Pending {
        var name: String
        var datatype: Datatype
        var shape: [Int]
        var allocation: UnsafeMutableRawPointer
        var byteCount: Int
    }

    /// The largest output the host accepts, in bytes.
    static let maxOutputBytes = 1 << 30

    private var pending: [Pending] = []
    private(set) var refusal: String?

    deinit {
        for output in pending { output.allocation.deallocate() }
    }

    /// The sink to hand to the plugin; valid while `self` is alive.
    func makeSink() -> mh_output_sink {
        mh_output_sink(host_context: Unmanaged.passUnretained(self).toOpaque(), allocate_output: { context, name, datatype, shape, rank, size in
            guard let context else { return nil }
            let collector = Unmanaged<OutputCollector>.fromOpaque(context).takeUnretainedValue()
            return collector.allocate(name: name, datatype: datatype, shape: shape, rank: rank, byteSize: size)
        })
    }

    /// The outputs as tensors, checked against their declared shapes and datatypes.
    func tensors() throws(TensorLayoutError) -> [Tensor] {
        try pending.map { output throws(TensorLayoutError) in
            try Tensor(name: output.name, datatype: output.datatype, shape: output.shape, data: Array(UnsafeRawBufferPointer(start: output.allocation, count: output.byteCount)))
        }
    }

    private func allocate(name: UnsafePointer<CChar>?, datatype code: Int32, shape: UnsafePointer<Int64>?, rank: Int, byteSize: Int) -> UnsafeMutableRawPointer? {
        guard let name, let text = String(validatingCString: name), !text.isEmpty else {
            return refuse("an output has no valid UTF-8 name")
        }
        guard !pending.contains(where: { $0.name == text }) else { return refuse("output \"\(text)\" was allocated twice") }
        guard let datatype = Datatype(abiCode: code) else { return refuse("output \"\(text)\" has unknown datatype code \(code)") }
        guard rank == 0 || shape != nil, rank <= 32 else { return refuse("output \"\(text)\" has an invalid shape") }
        let dimensions = (0..<rank).map { Int(shape![$0]) }
        guard dimensions.allSatisfy({ $0 >= 0 }) else { return refuse("output \"\(text)\" has a negative dimension") }
        guard byteSize <= Self.maxOutputBytes else { return refuse("output \"\(text)\" is larger than \(Self.maxOutputBytes) bytes") }
        let allocation = UnsafeMutableRawPointer.allocate(byteCount: max(byteSize, 1), alignment: 16)
        pending.append(Pending(name: text, datatype: datatype, shape: dimensions, allocation: allocation, byteCount: byteSize))
        return allocation
    }

    private func refuse(_ reason: String) -> UnsafeMutableRawPointer? {
        if refusal == nil { refusal = reason }
        return nil
    }
}
