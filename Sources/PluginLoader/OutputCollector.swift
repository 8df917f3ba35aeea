import CModelHostPlugin
import ModelHostCore
import ModelManifest

/// Receives a plugin's outputs through the ABI's `mh_output_sink`, in host-owned buffers, and
/// checks them against the plugin's manifest.
///
/// The host allocates every buffer and frees all of them when the collector is done, so a plugin
/// can neither leak output memory nor free it twice. Every value the plugin passes is checked
/// before it is used: a plugin can make the host refuse an allocation, never trap.
final class OutputCollector {
    private struct Pending {
        var name: String
        var datatype: Datatype
        var shape: [Int]
        var allocation: UnsafeMutableRawPointer
        var byteCount: Int
    }

    /// The most bytes one call's outputs may take together.
    static let maxOutputBytes = 1 << 30
    /// The highest rank an output may have.
    static let maxRank = 32

    private let declared: [TensorSpec]
    private var pending: [Pending] = []
    private var allocatedBytes = 0
    private(set) var refusal: String?

    /// Creates a collector for a plugin whose manifest declares `outputs`.
    init(declaredOutputs outputs: [TensorSpec]) {
        self.declared = outputs
    }

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

    /// The outputs as tensors, checked for a well-formed layout and against the manifest: every
    /// required declared output present, none undeclared, each with its declared datatype.
    ///
    /// - Throws: A description of the first problem, naming the output.
    func tensors() throws(OutputProblem) -> [Tensor] {
        var tensors: [Tensor] = []
        tensors.reserveCapacity(pending.count)
        for output in pending {
            guard let spec = declared.first(where: { $0.name == output.name }) else {
                throw OutputProblem("produced output \"\(output.name)\", which the manifest does not declare (outputs: \(declared.map(\.name).joined(separator: ", ")))")
            }
            guard spec.datatype == output.datatype else {
                throw OutputProblem("output \"\(output.name)\" is \(output.datatype.rawValue), the manifest declares \(spec.datatype.rawValue)")
            }
            do {
                let bytes = Array(UnsafeRawBufferPointer(start: output.allocation, count: output.byteCount))
                tensors.append(try Tensor(name: output.name, datatype: output.datatype, shape: output.shape, data: bytes))
            } catch {
                throw OutputProblem(error.description)
            }
        }
        for spec in declared where spec.isRequired && !pending.contains(where: { $0.name == spec.name }) {
            throw OutputProblem("did not produce output \"\(spec.name)\", which the manifest declares")
        }
        return tensors
    }

    private func allocate(name: UnsafePointer<CChar>?, datatype code: Int32, shape: UnsafePointer<Int64>?, rank: Int, byteSize: Int) -> UnsafeMutableRawPointer? {
        guard let name, let text = String(validatingCString: name), !text.isEmpty else {
            return refuse("an output has no valid UTF-8 name")
        }
        guard !pending.contains(where: { $0.name == text }) else { return refuse("output \"\(text)\" was allocated twice") }
        guard let datatype = Datatype(abiCode: code) else { return refuse("output \"\(text)\" has unknown datatype code \(code)") }
        // `size_t` arrives as `Int`: a huge value is negative here.
        guard (0...Self.maxRank).contains(rank) else {
            return refuse("output \"\(text)\" has rank \(UInt(bitPattern: rank)), outside 0...\(Self.maxRank)")
        }
        guard rank == 0 || shape != nil else { return refuse("output \"\(text)\" has rank \(rank) and no shape") }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(rank)
        var elements = 1
        for index in 0..<rank {
            let dimension = shape![index]
            guard dimension >= 0 else { return refuse("output \"\(text)\" has a negative dimension") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(dimension))
            guard !overflow else { return refuse("output \"\(text)\" has a shape with too many elements") }
            elements = product
            dimensions.append(Int(dimension))
        }
        guard byteSize >= 0 else {
            return refuse("output \"\(text)\" has byte size \(UInt(bitPattern: byteSize)), larger than the host accepts")
        }
        if let elementSize = datatype.elementSize {
            let (expected, overflow) = elements.multipliedReportingOverflow(by: elementSize)
            guard !overflow, expected == byteSize else {
                return refuse("output \"\(text)\" of shape \(dimensions) and datatype \(datatype.rawValue) needs \(overflow ? "too many" : String(expected)) bytes, not \(byteSize)")
            }
        } else {
            let (minimum, overflow) = elements.multipliedReportingOverflow(by: 4)
            guard !overflow, byteSize >= minimum else {
                return refuse("output \"\(text)\" of \(elements) BYTES elements needs at least \(overflow ? "too many" : String(minimum)) bytes, not \(byteSize)")
            }
        }
        guard byteSize <= Self.maxOutputBytes - allocatedBytes else {
            return refuse("output \"\(text)\" takes the call's outputs over \(Self.maxOutputBytes) bytes")
        }
        allocatedBytes += byteSize
        let allocation = UnsafeMutableRawPointer.allocate(byteCount: max(byteSize, 1), alignment: 16)
        pending.append(Pending(name: text, datatype: datatype, shape: dimensions, allocation: allocation, byteCount: byteSize))
        return allocation
    }

    private func refuse(_ reason: String) -> UnsafeMutableRawPointer? {
        if refusal == nil { refusal = reason }
        return nil
    }
}

/// What is wrong with a plugin's outputs, naming the output.
struct OutputProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
