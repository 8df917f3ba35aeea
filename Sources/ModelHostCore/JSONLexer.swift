/// The tokens of RFC 8259 JSON over raw bytes — whitespace, literals, numbers and strings — each
/// read strictly, with errors at their byte offset.
///
/// ``JSONValueParser``, ``JSONScanner`` and ``TensorJSONDecoder`` all read through it, so the three
/// refuse the same text with the same message at the same offset. The lexer knows nothing of
/// structure: nesting, commas and keys are its callers' business.
struct JSONLexer {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The offset of the next byte to read.
    var index = 0
    /// Reused for strings that contain escapes.
    var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The next byte, or `nil` at the end.
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// Reads `true`, `false` or `null`, whose first byte is at the cursor.
    mutating func readLiteral(_ literal: StaticString) throws(JSONParseError) {
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

    /// Reads a scalar whose first byte is at the cursor without keeping it: a string, a number or
    /// a literal. A number is checked for range without being converted when it is plainly finite.
    ///
    /// - Returns: The kind of the scalar read.
    mutating func skipScalar() throws(JSONParseError) -> JSONScanner.ValueKind {
        guard index < bytes.count else { throw unexpected(expecting: "a value") }
        switch bytes[index] {
        case UInt8(ascii: "\""): try skipString(); return .string
        case UInt8(ascii: "t"): try readLiteral("true"); return .bool
        case UInt8(ascii: "f"): try readLiteral("false"); return .bool
        case UInt8(ascii: "n"): try readLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try readNumber(converting: false); return .number
        default: throw unexpected(expecting: "a value")
        }
    }

    // MARK: Errors

    func unexpected(expecting expected: String) -> JSONParseError {
        JSONParseError(offset: index, message: "expected \(expected), found \(describeCurrent())")
    }

    func tooDeep(_ maxDepth: Int) -> JSONParseError {
        JSONParseError(offset: index, message: "arrays and objects nest deeper than \(maxDepth) levels")
    }

    func duplicateKey(_ key: String, at offset: Int) -> JSONParseError {
        var quoted = JSONWriter(capacity: key.utf8.count + 2)
        quoted.string(key)
        return JSONParseError(offset: offset, message: "duplicate key \(quoted.text)")
    }

    func trailingBytes() -> JSONParseError {
        JSONParseError(offset: index, message: "unexpected \(describe(bytes[index])) after the JSON value")
    }

    func describeCurrent() -> String {
        index < bytes.count ? describe(bytes[index]) : "end of input"
    }

    func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x21...0x7E: "'\(Character(Unicode.Scalar(byte)))'"
        default: "byte 0x\(byte < 0x10 ? "0" : "")\(String(byte, radix: 16, uppercase: true))"
        }
    }
}
