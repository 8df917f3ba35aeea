extension Tensor {
    /// Creates a tensor from the Open Inference Protocol's JSON `data`: a flat or nested array of
    /// elements in row-major order (or a single element for a one-element tensor).
    ///
    /// Integers must be whole and in range for the datatype, booleans must be JSON booleans,
    /// `BYTES` elements JSON strings.
    ///
    /// - Throws: ``TensorLayoutError`` naming the tensor, the element and what is wrong.
    public init(name: String, datatype: Datatype, shape: [Int], json: JSONValue) throws(TensorLayoutError) {
        let header = TensorHeader(name: name, datatype: datatype, shape: shape)
        var elements: [JSONValue] = []
        Self.flatten(json, into: &elements)
        var hasNestedArray = false
        var arrayShape: [Int]? = []
        if case .array(let top) = json {
            hasNestedArray = top.contains { if case .array = $0 { true } else { false } }
            arrayShape = hasNestedArray ? json.arrayShape : [top.count]
        }
        let measure = JSONScanner.SkippedValue(
            range: 0..<0, kind: json.valueKind, arrayShape: arrayShape, elementCount: elements.count, hasNestedArray: hasNestedArray
        )
        let count = try TensorJSONDecoder.checkLayout(measure, for: header)
        let encoder = TensorElementEncoder(name: name, datatype: datatype)
        let data: [UInt8]
        if let size = datatype.elementSize {
            data = try [UInt8].filled(count: count * size) { start throws(TensorLayoutError) in
                for (index, element) in elements.enumerated() {
                    guard let start else { return }
                    try Self.store(element, at: index, to: start + index * size, encoder)
                }
            }
        } else {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(elements.count * 16)
            for (index, element) in elements.enumerated() {
                guard case .string(let text) = element else { throw encoder.mismatch(element.valueKind, at: index) }
                let start = TensorElementEncoder.beginBytesElement(in: &bytes)
                bytes.append(contentsOf: text.utf8)
                try encoder.finishBytesElement(startingAt: start, in: &bytes)
            }
            data = bytes
        }
        try self.init(name: name, datatype: datatype, shape: shape, data: data)
    }

    private static func store(_ element: JSONValue, at index: Int, to target: UnsafeMutableRawPointer, _ encoder: TensorElementEncoder) throws(TensorLayoutError) {
        switch element {
        case .integer(let value): try encoder.store(.integer(value), at: index, to: target)
        case .unsignedInteger(let value): try encoder.store(.unsignedInteger(value), at: index, to: target)
        case .double(let value): try encoder.store(.double(value), at: index, to: target)
        case .bool(let flag) where encoder.datatype == .bool: target.storeBytes(of: flag ? 1 : 0, as: UInt8.self)
        default: throw encoder.mismatch(element.valueKind, at: index)
        }
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

    /// The value's JSON type.
    var valueKind: JSONScanner.ValueKind {
        switch self {
        case .null: .null
        case .bool: .bool
        case .integer, .unsignedInteger, .double: .number
        case .string: .string
        case .array: .array
        case .object: .object
        }
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
