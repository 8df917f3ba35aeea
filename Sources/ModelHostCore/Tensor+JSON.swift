extension Tensor {
    /// Creates a tensor from the Open Inference Protocol's JSON `data`: a flat or nested array of
    /// elements in row-major order (or a single element for a one-element tensor).
    ///
    /// Integers must be whole and in range for the datatype, booleans must be JSON booleans,
    /// `BYTES` elements JSON strings.
    ///
    /// - Throws: ``TensorLayoutError`` naming the tensor, the element and what is wrong.
    public init(name: String, datatype: Datatype, shape: [Int], json: JSONValue) throws(TensorLayoutError) {
        var elements: [JSONValue] = []
        Self.flatten(json, into: &elements)
        // Data is either flat or nested exactly as the shape says (the protocol's two layouts).
        if case .array(let top) = json, top.contains(where: { if case .array = $0 { true } else { false } }) {
            guard json.arrayShape == shape else {
                throw TensorLayoutError(tensor: name, message: "nested data does not have shape \(shape); give it flat or nested exactly as the shape")
            }
        }
        guard let expected = Self.checkedProduct(shape), expected == elements.count else {
            throw TensorLayoutError(tensor: name, message: "shape \(shape) needs \(Self.checkedProduct(shape).map(String.init) ?? "too many") elements, data has \(elements.count)")
        }
        var encoder = ElementEncoder(name: name, datatype: datatype, capacity: elements.count)
        for (index, element) in elements.enumerated() {
            try encoder.append(element, index: index)
        }
        try self.init(name: name, datatype: datatype, shape: shape, data: encoder.data)
    }

    /// Writes the tensor's elements as a flat JSON array, or as the bare element when `unwrapsSingleElement`
    /// is set and the tensor has exactly one.
    ///
    /// - Throws: ``TensorLayoutError`` for a NaN or infinite number or a `BYTES` element that is
    ///   not valid UTF-8, neither of which JSON can carry as text.
    public func writeJSONData(to writer: inout JSONWriter, unwrapsSingleElement: Bool = false) throws(TensorLayoutError) {
        let isBare = unwrapsSingleElement && elementCount == 1
        if !isBare { writer.beginArray() }
        switch datatype {
        case .bytes:
            for (index, element) in byteElements.enumerated() {
                let isValid = element.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) != nil }
                guard isValid else {
                    throw TensorLayoutError(tensor: name, message: "BYTES element \(index) is not valid UTF-8")
                }
                element.withUnsafeBytes { writer.string(utf8: $0) }
            }
        case .bool:
            for byte in data {
                writer.bool(byte != 0)
            }
        default:
            let failure: TensorLayoutError? = data.withUnsafeBytes { buffer in
                do throws(TensorLayoutError) {
                    try writeNumbers(buffer, to: &writer)
                    return nil
                } catch {
                    return error
                }
            }
            if let failure { throw failure }
        }
        if !isBare { writer.endArray() }
    }

    private func writeNumbers(_ buffer: UnsafeRawBufferPointer, to writer: inout JSONWriter) throws(TensorLayoutError) {
        let count = elementCount
        for index in 0..<count {
            switch datatype {
            case .uint8: writer.number(buffer.loadUnaligned(fromByteOffset: index, as: UInt8.self))
            case .uint16: writer.number(UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
            case .uint32: writer.number(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            case .uint64: writer.number(UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
            case .int8: writer.number(buffer.loadUnaligned(fromByteOffset: index, as: Int8.self))
            case .int16: writer.number(Int16(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
            case .int32: writer.number(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
            case .int64: writer.number(Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: Int64.self)))
            case .fp32:
                let bits = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self))
                guard writer.number(Float(bitPattern: bits)) else {
                    throw TensorLayoutError(tensor: name, message: "element \(index) is not a finite number")
                }
            case .fp64:
                let bits = UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
                guard writer.number(Double(bitPattern: bits)) else {
                    throw TensorLayoutError(tensor: name, message: "element \(index) is not a finite number")
                }
            case .bool, .bytes: break
            }
        }
    }

    private static func flatten(_ value: JSONValue, into elements: inout [JSONValue]) {
        if case .array(let children) = value {
            for child in children { flatten(child, into: &elements) }
        } else {
            elements.append(value)
        }
    }

    private static func checkedProduct(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = next
        }
        return product
    }
}

/// Encodes JSON elements into the ABI layout of one datatype.
private struct ElementEncoder {
    let name: String
    let datatype: Datatype
    var data: [UInt8] = []

    init(name: String, datatype: Datatype, capacity: Int) {
        self.name = name
        self.datatype = datatype
        data.reserveCapacity(capacity * (datatype.elementSize ?? 16))
    }

    mutating func append(_ element: JSONValue, index: Int) throws(TensorLayoutError) {
        switch datatype {
        case .bool:
            guard case .bool(let flag) = element else { throw mismatch(element, index, "a boolean") }
            data.append(flag ? 1 : 0)
        case .bytes:
            guard case .string(let text) = element else { throw mismatch(element, index, "a string") }
            let length = UInt32(text.utf8.count)
            appendLittleEndian(length)
            data.append(contentsOf: text.utf8)
        case .fp32:
            guard let value = element.doubleValue else { throw mismatch(element, index, "a number") }
            let single = Float(value)
            guard single.isFinite else {
                throw TensorLayoutError(tensor: name, message: "element \(index): \(value) is out of range for FP32")
            }
            appendLittleEndian(single.bitPattern)
        case .fp64:
            guard let value = element.doubleValue else { throw mismatch(element, index, "a number") }
            appendLittleEndian(value.bitPattern)
        case .int8: appendLittleEndian(try integer(element, index, as: Int8.self))
        case .int16: appendLittleEndian(try integer(element, index, as: Int16.self))
        case .int32: appendLittleEndian(try integer(element, index, as: Int32.self))
        case .int64: appendLittleEndian(try integer(element, index, as: Int64.self))
        case .uint8: appendLittleEndian(try integer(element, index, as: UInt8.self))
        case .uint16: appendLittleEndian(try integer(element, index, as: UInt16.self))
        case .uint32: appendLittleEndian(try integer(element, index, as: UInt32.self))
        case .uint64: appendLittleEndian(try integer(element, index, as: UInt64.self))
        }
    }

    private func integer<Integer: FixedWidthInteger>(_ element: JSONValue, _ index: Int, as type: Integer.Type) throws(TensorLayoutError) -> Integer {
        let converted: Integer?
        switch element {
        case .integer(let value): converted = Integer(exactly: value)
        case .unsignedInteger(let value): converted = Integer(exactly: value)
        case .double(let value): converted = value.rounded() == value ? Integer(exactly: value) : nil
        default: throw mismatch(element, index, "an integer")
        }
        guard let converted else {
            throw TensorLayoutError(tensor: name, message: "element \(index): \(element.jsonText) is not an integer in range for \(datatype.rawValue)")
        }
        return converted
    }

    private mutating func appendLittleEndian<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
    }

    private func mismatch(_ element: JSONValue, _ index: Int, _ expected: String) -> TensorLayoutError {
        TensorLayoutError(tensor: name, message: "element \(index) is \(element.kindDescription), \(datatype.rawValue) needs \(expected)")
    }
}

extension JSONValue {
    /// The shape of rectangular nested arrays (`[]` for a value that is not an array), or `nil`
    /// when the nesting is ragged.
    public var arrayShape: [Int]? {
        guard case .array(let elements) = self else { return [] }
        guard let first = elements.first else { return [0] }
        guard let inner = first.arrayShape else { return nil }
        for element in elements.dropFirst() where element.arrayShape != inner {
            return nil
        }
        return [elements.count] + inner
    }

    /// The value as a `Double` when it is a number.
    public var doubleValue: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .unsignedInteger(let value): Double(value)
        case .double(let value): value
        default: nil
        }
    }
}
