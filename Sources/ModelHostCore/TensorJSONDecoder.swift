/// Decodes one tensor's JSON `data` straight into the ABI layout of ``Tensor/data``, with no tree
/// and nothing allocated per element.
///
/// The layouts and element rules are those of ``Tensor/init(name:datatype:shape:json:)``: data
/// flat in row-major order, nested exactly as the shape, or a bare element for a one-element
/// tensor; integers whole and in range for the datatype, booleans JSON booleans, `BYTES` elements
/// JSON strings. The layout is checked before any element is read, from a measure of the text
/// (``JSONScanner/skipValue()``), so a tensor of the wrong size is refused for its size whatever
/// its elements hold.
public enum TensorJSONDecoder {
    /// Checks that measured JSON data can fill a tensor with `header`'s shape.
    ///
    /// - Parameters:
    ///   - data: The data value's measure.
    ///   - header: The tensor the data is for.
    /// - Returns: The number of elements.
    /// - Throws: ``TensorLayoutError`` when nested data does not have the shape, or the number of
    ///   elements is not the one the shape needs.
    @discardableResult
    public static func checkLayout(_ data: JSONScanner.SkippedValue, for header: TensorHeader) throws(TensorLayoutError) -> Int {
        // Data is either flat or nested exactly as the shape says (the protocol's two layouts).
        if data.hasNestedArray, data.arrayShape != header.shape {
            throw TensorLayoutError(
                tensor: header.name, message: "nested data does not have shape \(header.shape); give it flat or nested exactly as the shape"
            )
        }
        let expected = checkedProduct(header.shape)
        guard let expected, expected == data.elementCount else {
            throw TensorLayoutError(
                tensor: header.name, message: "shape \(header.shape) needs \(expected.map(String.init) ?? "too many") elements, data has \(data.elementCount)"
            )
        }
        return expected
    }

    /// Decodes JSON data given as text of its own.
    ///
    /// Contiguous collections are read in place; any other collection is copied first.
    ///
    /// - Parameters:
    ///   - json: The data value alone, as UTF-8; whitespace may surround it.
    ///   - header: The tensor's name, datatype and shape.
    ///   - maxDepth: How deeply the data's arrays may nest.
    /// - Returns: The tensor.
    /// - Throws: ``TensorLayoutError`` for text that is not JSON, data that does not fit the shape,
    ///   or an element that does not fit the datatype.
    public static func decode(
        _ json: some Collection<UInt8>, as header: TensorHeader, maxDepth: Int = JSONValueParser.defaultMaxDepth
    ) throws(TensorLayoutError) -> Tensor {
        try JSONScanner.withScanner(over: json, maxDepth: maxDepth) { scanner throws(TensorLayoutError) in
            let data: JSONScanner.SkippedValue
            do throws(JSONParseError) {
                data = try scanner.skipValue()
                try scanner.finish()
            } catch {
                throw TensorLayoutError(tensor: header.name, message: "data is not valid JSON: \(error)")
            }
            return try decode(data, in: UnsafeRawBufferPointer(scanner.lexer.bytes), as: header)
        }
    }

    /// Decodes a data value that ``JSONScanner/skipValue()`` measured in a larger document.
    ///
    /// - Parameters:
    ///   - data: The value's measure, taken from `document`; its ``JSONScanner/SkippedValue/range``
    ///     says where the value is.
    ///   - document: The text the value was measured in.
    ///   - header: The tensor's name, datatype and shape.
    /// - Returns: The tensor.
    /// - Throws: ``TensorLayoutError`` for data that does not fit the shape, or an element that
    ///   does not fit the datatype.
    public static func decode(
        _ data: JSONScanner.SkippedValue, in document: UnsafeRawBufferPointer, as header: TensorHeader
    ) throws(TensorLayoutError) -> Tensor {
        let count = try checkLayout(data, for: header)
        precondition(data.range.upperBound <= document.count, "the value lies outside the document")
        let text = UnsafeBufferPointer(rebasing: document.assumingMemoryBound(to: UInt8.self)[data.range])
        var walker = ElementWalker(lexer: JSONLexer(bytes: text), offset: data.range.lowerBound, name: header.name)
        let encoder = TensorElementEncoder(name: header.name, datatype: header.datatype)
        let bytes: [UInt8]
        if let size = header.datatype.elementSize {
            bytes = try [UInt8].filled(count: count * size) { start throws(TensorLayoutError) in
                try decodeFixedSize(&walker, count: count, size: size, encoder: encoder, into: start)
            }
        } else {
            bytes = try decodeBytes(&walker, count: count, encoder: encoder, capacity: data.range.count + 2 * count)
        }
        return try Tensor(name: header.name, datatype: header.datatype, shape: header.shape, data: bytes)
    }

    // MARK: Elements

    private static func decodeFixedSize(
        _ walker: inout ElementWalker, count: Int, size: Int, encoder: TensorElementEncoder, into start: UnsafeMutableRawPointer?
    ) throws(TensorLayoutError) {
        var index = 0
        while try walker.next() {
            guard index < count, let start else { throw walker.tooMany(count) }
            let target = start + index &* size
            switch walker.lexer.bytes[walker.lexer.index] {
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                let number: JSONNumber
                do throws(JSONParseError) { number = try walker.lexer.readNumber() } catch { throw walker.invalid(error) }
                try encoder.store(number, at: index, to: target)
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                guard encoder.datatype == .bool else { throw encoder.mismatch(.bool, at: index) }
                let isTrue = walker.lexer.bytes[walker.lexer.index] == UInt8(ascii: "t")
                do throws(JSONParseError) { try walker.lexer.readLiteral(isTrue ? "true" : "false") } catch { throw walker.invalid(error) }
                target.storeBytes(of: isTrue ? 1 : 0, as: UInt8.self)
            case let byte:
                throw walker.mismatch(byte, at: index, encoder)
            }
            walker.elementRead()
            index += 1
        }
        guard index == count else { throw walker.tooFew(count, found: index) }
    }

    private static func decodeBytes(
        _ walker: inout ElementWalker, count: Int, encoder: TensorElementEncoder, capacity: Int
    ) throws(TensorLayoutError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        var index = 0
        while try walker.next() {
            guard index < count else { throw walker.tooMany(count) }
            let byte = walker.lexer.bytes[walker.lexer.index]
            guard byte == UInt8(ascii: "\"") else { throw walker.mismatch(byte, at: index, encoder) }
            let start = TensorElementEncoder.beginBytesElement(in: &bytes)
            do throws(JSONParseError) { _ = try walker.lexer.readString(appendingTo: &bytes) } catch { throw walker.invalid(error) }
            try encoder.finishBytesElement(startingAt: start, in: &bytes)
            walker.elementRead()
            index += 1
        }
        guard index == count else { throw walker.tooFew(count, found: index) }
        return bytes
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

/// Visits the elements of nested arrays in row-major order, checking the arrays' grammar on the
/// way; only a depth counter is kept, since data holds nothing but arrays and elements.
private struct ElementWalker {
    private enum State {
        case value
        case afterValue
        case done
    }

    var lexer: JSONLexer
    /// Where the text starts in its document, so errors give document offsets.
    let offset: Int
    let name: String
    private var state = State.value
    private var depth = 0

    init(lexer: JSONLexer, offset: Int, name: String) {
        self.lexer = lexer
        self.offset = offset
        self.name = name
    }

    /// Moves to the next element, leaving the cursor on its first byte.
    ///
    /// - Returns: `false` when the data has ended.
    mutating func next() throws(TensorLayoutError) -> Bool {
        while true {
            switch state {
            case .done:
                return false
            case .value:
                lexer.skipWhitespace()
                guard let byte = lexer.peek else { throw invalid(lexer.unexpected(expecting: "a value")) }
                guard byte == UInt8(ascii: "[") else { return true }
                lexer.index += 1
                lexer.skipWhitespace()
                if lexer.peek == UInt8(ascii: "]") {
                    lexer.index += 1
                    state = .afterValue
                } else {
                    depth += 1
                }
            case .afterValue:
                guard depth > 0 else {
                    state = .done
                    return false
                }
                lexer.skipWhitespace()
                switch lexer.peek {
                case UInt8(ascii: ","):
                    lexer.index += 1
                    state = .value
                case UInt8(ascii: "]"):
                    lexer.index += 1
                    depth -= 1
                default:
                    throw invalid(lexer.unexpected(expecting: "',' or ']'"))
                }
            }
        }
    }

    /// Records that the element at the cursor has been read.
    mutating func elementRead() {
        state = .afterValue
    }

    /// The refusal of an element that is neither a number nor a boolean nor a string, or of one
    /// of those that the datatype does not take.
    func mismatch(_ byte: UInt8, at index: Int, _ encoder: TensorElementEncoder) -> TensorLayoutError {
        switch byte {
        case UInt8(ascii: "{"): encoder.mismatch(.object, at: index)
        case UInt8(ascii: "\""): encoder.mismatch(.string, at: index)
        case UInt8(ascii: "n"): encoder.mismatch(.null, at: index)
        case UInt8(ascii: "t"), UInt8(ascii: "f"): encoder.mismatch(.bool, at: index)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): encoder.mismatch(.number, at: index)
        default: invalid(lexer.unexpected(expecting: "a value"))
        }
    }

    func invalid(_ error: JSONParseError) -> TensorLayoutError {
        TensorLayoutError(tensor: name, message: "data is not valid JSON: at byte \(offset + error.offset): \(error.message)")
    }

    func tooMany(_ count: Int) -> TensorLayoutError {
        TensorLayoutError(tensor: name, message: "data has more than the \(count) elements its measure gave")
    }

    func tooFew(_ count: Int, found: Int) -> TensorLayoutError {
        TensorLayoutError(tensor: name, message: "data has \(found) elements, its measure gave \(count)")
    }
}
