import ModelHostCore
import ModelManifest

/// Reads a tracked output's tensor and puts each element in its bin, before any lock is taken.
struct OutputBinner: Sendable {
    /// One tensor's elements as bins.
    struct Batch: Sendable {
        /// Each element's bin index, in order.
        var bins: [UInt16] = []
        /// For a numeric output, the elements over its bounds.
        var histogram: Histogram?
    }

    private enum Rule: Sendable {
        /// Bins by class name; `other` is the bin of every value that is none of them.
        case classes(indices: [String: UInt16], other: UInt16)
        /// Bins numbers by the first bound at or above them.
        case bounds([Double])
    }

    private let rule: Rule

    /// A binner for `output`'s kind.
    init(output: TrackedOutput) {
        switch output.kind {
        case .categorical(let classes):
            var indices: [String: UInt16] = [:]
            for (index, name) in classes.enumerated() where indices[name] == nil {
                indices[name] = UInt16(index)
            }
            rule = .classes(indices: indices, other: UInt16(classes.count))
        case .numeric(let bounds):
            rule = .bounds(bounds)
        }
    }

    /// The bins of `tensor`'s elements, or `nil` when its datatype does not fit the output's kind.
    /// A categorical output takes `BYTES` (each element a class name, as UTF-8) and `BOOL`
    /// (`"false"`, `"true"`); a numeric output takes every numeric datatype and skips NaN and
    /// infinite elements.
    func bin(_ tensor: Tensor) -> Batch? {
        switch (rule, tensor.datatype) {
        case (.classes(let indices, let other), .bytes):
            var batch = Batch()
            batch.bins.reserveCapacity(tensor.elementCount)
            for element in tensor.byteElements {
                batch.bins.append(indices[String(decoding: element, as: UTF8.self)] ?? other)
            }
            return batch
        case (.classes(let indices, let other), .bool):
            let falseBin = indices["false"] ?? other
            let trueBin = indices["true"] ?? other
            return Batch(bins: tensor.data.map { $0 == 0 ? falseBin : trueBin })
        case (.bounds(let bounds), let datatype) where datatype.isNumeric:
            var histogram = Histogram(upperBounds: bounds)
            var bins: [UInt16] = []
            bins.reserveCapacity(tensor.elementCount)
            Self.forEachNumber(in: tensor) { value in
                guard value.isFinite else { return }
                bins.append(UInt16(histogram.bucket(of: value)))
                histogram.record(value)
            }
            return Batch(bins: bins, histogram: histogram)
        default:
            return nil
        }
    }

    /// Calls `body` with each element of a numeric tensor as a `Double`, in order.
    static func forEachNumber(in tensor: Tensor, _ body: (Double) -> Void) {
        let count = tensor.elementCount
        tensor.data.withUnsafeBytes { buffer in
            for index in 0..<count {
                let value: Double
                switch tensor.datatype {
                case .uint8: value = Double(buffer.loadUnaligned(fromByteOffset: index, as: UInt8.self))
                case .uint16: value = Double(UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                case .uint32: value = Double(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                case .uint64: value = Double(UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
                case .int8: value = Double(buffer.loadUnaligned(fromByteOffset: index, as: Int8.self))
                case .int16: value = Double(Int16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
                case .int32: value = Double(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
                case .int64: value = Double(Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
                case .fp32: value = Double(Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))))
                case .fp64: value = Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
                case .bool, .bytes: return
                }
                body(value)
            }
        }
    }
}
