/// The rules by which one JSON element becomes one element of a tensor's data, in one place for
/// ``Tensor/init(name:datatype:shape:json:)`` and ``TensorJSONDecoder``.
///
/// Integers must be whole and in range for the datatype (`3.0` and `-2e2` are whole; `-0` is 0),
/// floating-point datatypes take any number (FP32 rounds the number's double to single precision,
/// and refuses what overflows it), `BOOL` takes JSON booleans, `BYTES` JSON strings.
struct TensorElementEncoder {
    let name: String
    let datatype: Datatype

    /// What an element of the datatype must be, for messages.
    private var expected: String {
        switch datatype {
        case .bool: "a boolean"
        case .bytes: "a string"
        case .fp32, .fp64: "a number"
        default: "an integer"
        }
    }

    /// The refusal of element `index`, which is of the wrong JSON type.
    func mismatch(_ kind: JSONScanner.ValueKind, at index: Int) -> TensorLayoutError {
        TensorLayoutError(tensor: name, message: "element \(index) is \(kind), \(datatype.rawValue) needs \(expected)")
    }

    /// Stores number element `index` at `pointer`, in the datatype's little-endian layout; the
    /// datatype must be numeric and `pointer` must have room for one element.
    ///
    /// - Throws: ``TensorLayoutError`` when the number does not fit the datatype.
    @inline(__always)
    func store(_ number: JSONNumber, at index: Int, to pointer: UnsafeMutableRawPointer) throws(TensorLayoutError) {
        switch datatype {
        case .fp32:
            let value = number.doubleValue
            let single = Float(value)
            guard single.isFinite else {
                throw TensorLayoutError(tensor: name, message: "element \(index): \(value) is out of range for FP32")
            }
            pointer.storeBytes(of: single.bitPattern.littleEndian, as: UInt32.self)
        case .fp64: pointer.storeBytes(of: number.doubleValue.bitPattern.littleEndian, as: UInt64.self)
        case .int8: pointer.storeBytes(of: try integer(number, index, as: Int8.self), as: Int8.self)
        case .int16: pointer.storeBytes(of: try integer(number, index, as: Int16.self).littleEndian, as: Int16.self)
        case .int32: pointer.storeBytes(of: try integer(number, index, as: Int32.self).littleEndian, as: Int32.self)
        case .int64: pointer.storeBytes(of: try integer(number, index, as: Int64.self).littleEndian, as: Int64.self)
        case .uint8: pointer.storeBytes(of: try integer(number, index, as: UInt8.self), as: UInt8.self)
        case .uint16: pointer.storeBytes(of: try integer(number, index, as: UInt16.self).littleEndian, as: UInt16.self)
        case .uint32: pointer.storeBytes(of: try integer(number, index, as: UInt32.self).littleEndian, as: UInt32.self)
        case .uint64: pointer.storeBytes(of: try integer(number, index, as: UInt64.self).littleEndian, as: UInt64.self)
        case .bool, .bytes: throw mismatch(.number, at: index)
        }
    }

    /// Appends a `BYTES` element's 4-byte little-endian length prefix, as a placeholder that
    /// ``finishBytesElement(startingAt:in:)`` fills in.
    ///
    /// - Returns: Where the prefix is.
    static func beginBytesElement(in data: inout [UInt8]) -> Int {
        let start = data.count
        data.append(contentsOf: [0, 0, 0, 0])
        return start
    }

    /// Fills in the length prefix of the `BYTES` element whose prefix is at `start`.
    ///
    /// - Throws: ``TensorLayoutError`` for an element longer than the prefix can say.
    func finishBytesElement(startingAt start: Int, in data: inout [UInt8]) throws(TensorLayoutError) {
        let length = data.count - start - 4
        guard let prefix = UInt32(exactly: length) else {
            throw TensorLayoutError(tensor: name, message: "a BYTES element is longer than 2^32 - 1 bytes")
        }
        data[start] = UInt8(truncatingIfNeeded: prefix)
        data[start + 1] = UInt8(truncatingIfNeeded: prefix >> 8)
        data[start + 2] = UInt8(truncatingIfNeeded: prefix >> 16)
        data[start + 3] = UInt8(truncatingIfNeeded: prefix >> 24)
    }

    @inline(__always)
    private func integer<Integer: FixedWidthInteger>(_ number: JSONNumber, _ index: Int, as type: Integer.Type) throws(TensorLayoutError) -> Integer {
        let converted: Integer?
        switch number {
        case .integer(let value): converted = Integer(exactly: value)
        case .unsignedInteger(let value): converted = Integer(exactly: value)
        case .double(let value): converted = value.rounded() == value ? Integer(exactly: value) : nil
        }
        guard let converted else {
            throw TensorLayoutError(tensor: name, message: "element \(index): \(number.jsonValue.jsonText) is not an integer in range for \(datatype.rawValue)")
        }
        return converted
    }
}

extension [UInt8] {
    /// A buffer of exactly `count` bytes, every one written by `initialize`, which is given the
    /// start of the buffer (`nil` when `count` is 0).
    ///
    /// - Throws: What `initialize` throws; it must have written every byte when it returns.
    static func filled<Failure: Error>(
        count: Int, by initialize: (UnsafeMutableRawPointer?) throws(Failure) -> Void
    ) throws(Failure) -> [UInt8] {
        // `init(unsafeUninitializedCapacity:)` only rethrows untyped errors, hence the capture.
        var failure: Failure?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(Failure) {
                try initialize(buffer.baseAddress.map(UnsafeMutableRawPointer.init))
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}
