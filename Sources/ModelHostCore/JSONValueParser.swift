/// A strict RFC 8259 parser from UTF-8 bytes to ``JSONValue``.
///
/// Unlike decoding ``JSONValue`` through `JSONDecoder`, the parser keeps what the text says a number
/// is: `1` is ``JSONValue/integer(_:)``, `1.0` and `1e2` are ``JSONValue/double(_:)``, and `-0`
/// keeps its sign as `.double(-0.0)`. It is a single pass over the bytes that throws only on the
/// first error, and it never recurses, so hostile nesting cannot overflow the stack.
///
/// It refuses everything RFC 8259 does not allow, plus two things it allows but a request must not
/// rely on: duplicate object keys and nesting deeper than `maxDepth`. Keys are compared as Swift
/// strings, by canonical equivalence, so `"\u00e9"` and `"e\u0301"` in one object are duplicates.
/// A number too large for a `Double` (`1e400`) is an error; one too small (`1e-400`) is zero.
public enum JSONValueParser {
    /// The nesting limit used when the caller gives none.
    public static let defaultMaxDepth = 128

    /// Parses one JSON document.
    ///
    /// Contiguous collections (`[UInt8]`, `Data`, NIO's `ByteBufferView`, a native string's
    /// `utf8`) are read in place; any other collection is copied first.
    ///
    /// - Parameters:
    ///   - bytes: The document as UTF-8, without a byte order mark.
    ///   - maxDepth: How deeply arrays and objects may nest; `[[1]]` has depth 2. The parser itself
    ///     is not recursive, but ``JSONValue``'s equality, hashing and destruction are, so the limit
    ///     also protects whoever consumes the value.
    /// - Returns: The document's value.
    /// - Throws: ``JSONParseError`` with the byte offset of the first problem.
    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            parseCatching(buffer, maxDepth: maxDepth)
        }
        let result = contiguous ?? Array(bytes).withUnsafeBufferPointer { parseCatching($0, maxDepth: maxDepth) }
        return try result.get()
    }

    /// Parses one JSON document held in raw memory.
    ///
    /// - Parameters:
    ///   - buffer: The document as UTF-8, without a byte order mark.
    ///   - maxDepth: How deeply arrays and objects may nest.
    /// - Returns: The document's value.
    /// - Throws: ``JSONParseError`` with the byte offset of the first problem.
    public static func parse(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        var parser = Parser(bytes: buffer.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Wraps the parse in a `Result`, because `withContiguousStorageIfAvailable` only rethrows
    /// untyped errors.
    private static func parseCatching(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int) -> Result<JSONValue, JSONParseError> {
        var parser = Parser(bytes: buffer, maxDepth: maxDepth)
        do throws(JSONParseError) {
            return .success(try parser.parseDocument())
        } catch {
            return .failure(error)
        }
    }
}

/// Why a JSON document was refused, and where.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The zero-based byte offset of the problem in the input.
    public var offset: Int
    /// What is wrong, for a person: "expected ',' or ']', found '}'".
    public var message: String

    /// Creates an error.
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }

    public var description: String { "at byte \(offset): \(message)" }
}

extension JSONValue {
    /// Parses a JSON document strictly; see ``JSONValueParser``.
    ///
    /// - Throws: ``JSONParseError`` with the byte offset of the first problem.
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = JSONValueParser.defaultMaxDepth) throws(JSONParseError) {
        self = try JSONValueParser.parse(bytes, maxDepth: maxDepth)
    }
}

// MARK: - The parser

/// The parser's state over one document: a cursor, and explicit stacks in place of recursion.
private struct Parser {
    /// An array or object that is open while its members are parsed.
    private struct Frame {
        var isObject: Bool
        /// For an array, where its elements start on the element stack.
        var start: Int
        /// For an object, the key whose value is being parsed, and the offset of its quote.
        var key: String
        var keyOffset: Int
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    private var index = 0
    /// Reused for strings that contain escapes.
    private var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        var frames: [Frame] = []
        // Elements of all open arrays, innermost last: each array is built once at its exact size.
        var elements: [JSONValue] = []
        // Members of all open objects, innermost last, filled in place.
        var objects: [[String: JSONValue]] = []
        skipWhitespace()

        nextValue: while true {
            var value: JSONValue
            guard index < bytes.count else { throw unexpected(expecting: "a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                guard frames.count < maxDepth else { throw tooDeep() }
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "}") {
                    index += 1
                    value = .object([:])
                } else {
                    let (key, keyOffset) = try parseKey(expecting: "a string key or '}'")
                    frames.append(Frame(isObject: true, start: 0, key: key, keyOffset: keyOffset))
                    objects.append([:])
                    continue nextValue
                }
            case UInt8(ascii: "["):
                guard frames.count < maxDepth else { throw tooDeep() }
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    index += 1
                    value = .array([])
                } else {
                    frames.append(Frame(isObject: false, start: elements.count, key: "", keyOffset: 0))
                    continue nextValue
                }
            case UInt8(ascii: "\""): value = .string(try parseString())
            case UInt8(ascii: "t"): try parseLiteral("true"); value = .bool(true)
            case UInt8(ascii: "f"): try parseLiteral("false"); value = .bool(false)
            case UInt8(ascii: "n"): try parseLiteral("null"); value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): value = try parseNumber()
            default: throw unexpected(expecting: "a value")
            }

            // A value is complete: add it to the open container, closing containers as they end.
            while true {
                skipWhitespace()
                guard let frame = frames.last else {
                    guard index == bytes.count else {
                        throw JSONParseError(offset: index, message: "unexpected \(describe(bytes[index])) after the JSON value")
                    }
                    return value
                }
                if frame.isObject {
                    if objects[objects.count - 1].updateValue(value, forKey: frame.key) != nil {
                        var quoted = JSONWriter(capacity: frame.key.utf8.count + 2)
                        quoted.string(frame.key)
                        throw JSONParseError(offset: frame.keyOffset, message: "duplicate key \(quoted.text)")
                    }
                    switch peek {
                    case UInt8(ascii: ","):
                        index += 1
                        skipWhitespace()
                        let (key, keyOffset) = try parseKey(expecting: "a string key")
                        frames[frames.count - 1].key = key
                        frames[frames.count - 1].keyOffset = keyOffset
                        continue nextValue
                    case UInt8(ascii: "}"):
                        index += 1
                        frames.removeLast()
                        value = .object(objects.removeLast())
                    default:
                        throw unexpected(expecting: "',' or '}'")
                    }
                } else {
                    elements.append(value)
                    switch peek {
                    case UInt8(ascii: ","):
                        index += 1
                        skipWhitespace()
                        continue nextValue
                    case UInt8(ascii: "]"):
                        index += 1
                        frames.removeLast()
                        value = .array(Array(elements[frame.start...]))
                        elements.removeSubrange(frame.start...)
                    default:
                        throw unexpected(expecting: "',' or ']'")
                    }
                }
            }
        }
    }

    // MARK: Tokens

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Parses `"key"` and the colon after it, leaving the cursor at the value.
    private mutating func parseKey(expecting expected: String) throws(JSONParseError) -> (String, Int) {
        guard peek == UInt8(ascii: "\"") else { throw unexpected(expecting: expected) }
        let offset = index
        let key = try parseString()
        skipWhitespace()
        guard peek == UInt8(ascii: ":") else { throw unexpected(expecting: "':' after the key") }
        index += 1
        skipWhitespace()
        return (key, offset)
    }

    private mutating func parseLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = index
        let matches = literal.withUTF8Buffer { expected in
            guard bytes.count - start >= expected.count else { return false }
            for offset in 0..<expected.count where bytes[start + offset] != expected[offset] {
                return false
            }
            return true
        }
        guard matches else {
            throw JSONParseError(offset: start, message: "expected a value, found an invalid literal (did you mean '\(literal)'?)")
        }
        index += literal.utf8CodeUnitCount
    }

    // MARK: Numbers

    /// Exact powers of ten: a mantissa below 2^53 times or over one of them is correctly rounded.
    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let isNegative = bytes[index] == UInt8(ascii: "-")
        if isNegative { index += 1 }
        // All significant digits, while they fit; the value is mantissa × 10^exponent.
        var mantissa: UInt64 = 0
        var isMantissaExact = true
        var exponent = 0

        guard let first = digit(at: index) else {
            throw JSONParseError(offset: index, message: "expected a digit after '-', found \(describeCurrent())")
        }
        if first == 0 {
            index += 1
            if digit(at: index) != nil {
                throw JSONParseError(offset: index - 1, message: "leading zeros are not allowed in numbers")
            }
        } else {
            while let value = digit(at: index) {
                accumulate(value, into: &mantissa, isExact: &isMantissaExact)
                index += 1
            }
        }
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard digit(at: index) != nil else {
                throw JSONParseError(offset: index, message: "expected a digit after '.', found \(describeCurrent())")
            }
            while let value = digit(at: index) {
                accumulate(value, into: &mantissa, isExact: &isMantissaExact)
                exponent -= 1
                index += 1
            }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            let isExponentNegative = peek == UInt8(ascii: "-")
            if isExponentNegative || peek == UInt8(ascii: "+") { index += 1 }
            guard digit(at: index) != nil else {
                throw JSONParseError(offset: index, message: "expected a digit in the exponent, found \(describeCurrent())")
            }
            var written = 0
            while let value = digit(at: index) {
                if written < 1_000_000 { written = written * 10 + Int(value) }  // Saturates; only the fast path reads it.
                index += 1
            }
            exponent += isExponentNegative ? -written : written
        }

        if isInteger && isMantissaExact {
            if !isNegative {
                return mantissa <= UInt64(Int64.max) ? .integer(Int64(mantissa)) : .unsignedInteger(mantissa)
            }
            if mantissa == 0 { return .double(-0.0) }
            if mantissa <= Int64.min.magnitude { return .integer(Int64(truncatingIfNeeded: 0 &- mantissa)) }
        }
        // Clinger's fast path: both operands exact, so the one rounding is the correct one.
        if isMantissaExact && mantissa <= 1 << 53 && (-22...22).contains(exponent) {
            var magnitude = Double(mantissa)
            if exponent < 0 {
                magnitude /= Self.exactPowersOfTen[-exponent]
            } else {
                magnitude *= Self.exactPowersOfTen[exponent]
            }
            return .double(isNegative ? -magnitude : magnitude)
        }
        // The text is grammatical, so Swift's correctly rounded conversion reads it as written.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            let shown = text.utf8.count > 40 ? "\(text.prefix(40))…" : text
            throw JSONParseError(offset: start, message: "number \(shown) is out of range for a double")
        }
        return .double(value)
    }

    private func digit(at offset: Int) -> UInt8? {
        guard offset < bytes.count else { return nil }
        let value = bytes[offset] &- UInt8(ascii: "0")
        return value < 10 ? value : nil
    }

    private func accumulate(_ digit: UInt8, into mantissa: inout UInt64, isExact: inout Bool) {
        guard isExact else { return }
        let (times10, overflow1) = mantissa.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
        if overflow1 || overflow2 {
            isExact = false
        } else {
            mantissa = sum
        }
    }

    // MARK: Strings

    /// Parses a string whose opening quote is at the cursor, leaving the cursor after its close.
    private mutating func parseString() throws(JSONParseError) -> String {
        let quote = index
        index += 1
        let start = index
        var orOfBytes: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeBufferPointer(rebasing: bytes[start..<index])
                index += 1
                return try makeString(content, isASCII: orOfBytes < 0x80, rawRange: start..<(index - 1))
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(quote: quote, start: start, isASCII: orOfBytes < 0x80)
            }
            if byte < 0x20 { throw controlCharacter(byte) }
            orOfBytes |= byte
            index += 1
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Continues a string at its first backslash, decoding into the scratch buffer.
    private mutating func parseEscapedString(quote: Int, start: Int, isASCII: Bool) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
        var orOfBytes: UInt8 = isASCII ? 0 : 0x80
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                let isASCII = orOfBytes < 0x80
                return try scratch.withUnsafeBufferPointer { content throws(JSONParseError) in
                    try makeString(content, isASCII: isASCII, rawRange: start..<(index - 1))
                }
            case UInt8(ascii: "\\"):
                try decodeEscape()
            case 0x00..<0x20:
                throw controlCharacter(byte)
            default:
                orOfBytes |= byte
                scratch.append(byte)
                index += 1
            }
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Decodes the escape at the cursor into the scratch buffer as UTF-8.
    private mutating func decodeEscape() throws(JSONParseError) {
        let escape = index
        guard index + 1 < bytes.count else { throw JSONParseError(offset: escape, message: "unterminated escape sequence") }
        let kind = bytes[index + 1]
        index += 2
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(kind)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try hexUnit(escape: escape)
            var scalar = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                let second = index
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw loneSurrogate(unit, at: escape)
                }
                index += 2
                let low = try hexUnit(escape: second)
                guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(unit, at: escape) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw loneSurrogate(unit, at: escape)
            default:
                break
            }
            appendUTF8(scalar)
        default:
            throw JSONParseError(offset: escape, message: "invalid escape '\\\(describeEscaped(kind))'")
        }
    }

    /// Reads the four hex digits after `\u`, the cursor being on the first.
    private mutating func hexUnit(escape: Int) throws(JSONParseError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let value = hexValue(bytes[index]) else {
                throw JSONParseError(offset: escape, message: "invalid \\u escape: expected four hex digits")
            }
            unit = unit << 4 | UInt16(value)
            index += 1
        }
        return unit
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Makes a `String` from decoded content; `rawRange` is where it came from in the input, to
    /// locate invalid UTF-8.
    private func makeString(_ content: UnsafeBufferPointer<UInt8>, isASCII: Bool, rawRange: Range<Int>) throws(JSONParseError) -> String {
        if isASCII { return String(decoding: content, as: UTF8.self) }
        if let text = String(validating: content, as: UTF8.self) { return text }
        // Escapes decode to whole, valid sequences, so the fault is in the raw bytes.
        let offset = Self.firstInvalidUTF8(in: bytes, rawRange) ?? rawRange.lowerBound
        throw JSONParseError(offset: offset, message: "invalid UTF-8 (\(describe(bytes[offset])))")
    }

    /// The offset of the first byte that starts an ill-formed UTF-8 sequence (RFC 3629).
    private static func firstInvalidUTF8(in bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        while index < range.upperBound {
            let lead = bytes[index]
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0x00...0x7F: index += 1; continue
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return index
            }
            guard index + length <= range.upperBound, secondRange.contains(bytes[index + 1]) else { return index }
            for continuation in (index + 2)..<(index + length) where bytes[continuation] & 0xC0 != 0x80 {
                return index
            }
            index += length
        }
        return nil
    }

    // MARK: Errors

    private func unexpected(expecting expected: String) -> JSONParseError {
        JSONParseError(offset: index, message: "expected \(expected), found \(describeCurrent())")
    }

    private func tooDeep() -> JSONParseError {
        JSONParseError(offset: index, message: "arrays and objects nest deeper than \(maxDepth) levels")
    }

    private func controlCharacter(_ byte: UInt8) -> JSONParseError {
        JSONParseError(offset: index, message: "unescaped control character \(describe(byte)) in a string")
    }

    private func loneSurrogate(_ unit: UInt16, at offset: Int) -> JSONParseError {
        let hex = String(unit, radix: 16, uppercase: true)
        return JSONParseError(offset: offset, message: "lone surrogate \\u\(hex) is not a character")
    }

    private func describeCurrent() -> String {
        index < bytes.count ? describe(bytes[index]) : "end of input"
    }

    private func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x21...0x7E: "'\(Character(Unicode.Scalar(byte)))'"
        default: "byte 0x\(byte < 0x10 ? "0" : "")\(String(byte, radix: 16, uppercase: true))"
        }
    }

    private func describeEscaped(_ byte: UInt8) -> String {
        switch byte {
        case 0x21...0x7E: String(Character(Unicode.Scalar(byte)))
        default: "<byte 0x\(String(byte, radix: 16, uppercase: true))>"
        }
    }
}
