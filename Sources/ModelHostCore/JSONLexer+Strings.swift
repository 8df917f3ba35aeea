extension JSONLexer {
    /// Reads a string whose opening quote is at the cursor, leaving the cursor after its close.
    mutating func readString() throws(JSONParseError) -> String {
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
                // The reusable buffer is taken out of `self` while `self` decodes into it.
                var decoded = scratch
                scratch = []
                defer { scratch = decoded }
                decoded.removeAll(keepingCapacity: true)
                decoded.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                let isASCII = try decodeRest(of: quote, from: start, orOfBytes: orOfBytes, into: &decoded)
                return try decoded.withUnsafeBufferPointer { content throws(JSONParseError) in
                    try makeString(content, isASCII: isASCII, rawRange: start..<(index - 1))
                }
            }
            if byte < 0x20 { throw controlCharacter(byte) }
            orOfBytes |= byte
            index += 1
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Reads a string whose opening quote is at the cursor, appending its decoded UTF-8 to `output`
    /// instead of making a `String`.
    ///
    /// - Returns: How many bytes were appended.
    mutating func readString(appendingTo output: inout [UInt8]) throws(JSONParseError) -> Int {
        let quote = index
        index += 1
        let start = index
        let before = output.count
        var orOfBytes: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                index += 1
                if orOfBytes >= 0x80 { try checkUTF8(start..<(index - 1)) }
                return output.count - before
            }
            if byte == UInt8(ascii: "\\") {
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                let isASCII = try decodeRest(of: quote, from: start, orOfBytes: orOfBytes, into: &output)
                if !isASCII { try checkUTF8(start..<(index - 1)) }
                return output.count - before
            }
            if byte < 0x20 { throw controlCharacter(byte) }
            orOfBytes |= byte
            index += 1
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Checks a string whose opening quote is at the cursor as ``readString()`` would, without
    /// decoding it, leaving the cursor after its close.
    mutating func skipString() throws(JSONParseError) {
        let quote = index
        index += 1
        let start = index
        var orOfBytes: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                if orOfBytes >= 0x80 { try checkUTF8(start..<(index - 1)) }
                return
            case UInt8(ascii: "\\"):
                try checkEscape()
            case 0x00..<0x20:
                throw controlCharacter(byte)
            default:
                orOfBytes |= byte
                index += 1
            }
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Continues a string at its first backslash, appending the decoded rest to `output`.
    ///
    /// - Returns: Whether every raw byte of the string was ASCII.
    private mutating func decodeRest(of quote: Int, from start: Int, orOfBytes: UInt8, into output: inout [UInt8]) throws(JSONParseError) -> Bool {
        var orOfBytes = orOfBytes
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return orOfBytes < 0x80
            case UInt8(ascii: "\\"):
                try decodeEscape(into: &output)
            case 0x00..<0x20:
                throw controlCharacter(byte)
            default:
                orOfBytes |= byte
                output.append(byte)
                index += 1
            }
        }
        throw JSONParseError(offset: quote, message: "unterminated string")
    }

    /// Checks the escape at the cursor without decoding it.
    private mutating func checkEscape() throws(JSONParseError) {
        let escape = index
        guard index + 1 < bytes.count else { throw JSONParseError(offset: escape, message: "unterminated escape sequence") }
        let kind = bytes[index + 1]
        index += 2
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            _ = try unicodeEscape(at: escape)
        default:
            throw JSONParseError(offset: escape, message: "invalid escape '\\\(describeEscaped(kind))'")
        }
    }

    /// Decodes the escape at the cursor, appending it to `output` as UTF-8.
    private mutating func decodeEscape(into output: inout [UInt8]) throws(JSONParseError) {
        let escape = index
        guard index + 1 < bytes.count else { throw JSONParseError(offset: escape, message: "unterminated escape sequence") }
        let kind = bytes[index + 1]
        index += 2
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): output.append(kind)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"): Self.appendUTF8(try unicodeEscape(at: escape), to: &output)
        default: throw JSONParseError(offset: escape, message: "invalid escape '\\\(describeEscaped(kind))'")
        }
    }

    /// Reads the rest of a `\u` escape, and a second one when the first is a high surrogate.
    ///
    /// - Returns: The Unicode scalar the escape stands for.
    private mutating func unicodeEscape(at escape: Int) throws(JSONParseError) -> UInt32 {
        let unit = try hexUnit(escape: escape)
        switch unit {
        case 0xD800...0xDBFF:
            let second = index
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw loneSurrogate(unit, at: escape)
            }
            index += 2
            let low = try hexUnit(escape: second)
            guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(unit, at: escape) }
            return 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        case 0xDC00...0xDFFF:
            throw loneSurrogate(unit, at: escape)
        default:
            return UInt32(unit)
        }
    }

    /// Reads the four hex digits after `\u`, the cursor being on the first.
    private mutating func hexUnit(escape: Int) throws(JSONParseError) -> UInt16 {
        var unit: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let value = Self.hexValue(bytes[index]) else {
                throw JSONParseError(offset: escape, message: "invalid \\u escape: expected four hex digits")
            }
            unit = unit << 4 | UInt16(value)
            index += 1
        }
        return unit
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func appendUTF8(_ scalar: UInt32, to output: inout [UInt8]) {
        switch scalar {
        case ..<0x80:
            output.append(UInt8(scalar))
        case ..<0x800:
            output.append(UInt8(0xC0 | scalar >> 6))
            output.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            output.append(UInt8(0xE0 | scalar >> 12))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        default:
            output.append(UInt8(0xF0 | scalar >> 18))
            output.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            output.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            output.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    // MARK: UTF-8

    /// Makes a `String` from decoded content; `rawRange` is where it came from in the input, to
    /// locate invalid UTF-8.
    private func makeString(_ content: UnsafeBufferPointer<UInt8>, isASCII: Bool, rawRange: Range<Int>) throws(JSONParseError) -> String {
        if isASCII { return String(decoding: content, as: UTF8.self) }
        if let text = String(validating: content, as: UTF8.self) { return text }
        // Escapes decode to whole, valid sequences, so the fault is in the raw bytes.
        let offset = firstInvalidUTF8(in: rawRange) ?? rawRange.lowerBound
        throw JSONParseError(offset: offset, message: "invalid UTF-8 (\(describe(bytes[offset])))")
    }

    /// Checks the raw bytes of a string for UTF-8.
    ///
    /// An escape decodes to ASCII or to a whole, valid sequence, never to a continuation byte, so
    /// the decoded string is valid exactly when the raw bytes between the quotes are.
    private func checkUTF8(_ rawRange: Range<Int>) throws(JSONParseError) {
        if let offset = firstInvalidUTF8(in: rawRange) {
            throw JSONParseError(offset: offset, message: "invalid UTF-8 (\(describe(bytes[offset])))")
        }
    }

    /// The offset of the first byte that starts an ill-formed UTF-8 sequence (RFC 3629).
    private func firstInvalidUTF8(in range: Range<Int>) -> Int? {
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

    private func controlCharacter(_ byte: UInt8) -> JSONParseError {
        JSONParseError(offset: index, message: "unescaped control character \(describe(byte)) in a string")
    }

    private func loneSurrogate(_ unit: UInt16, at offset: Int) -> JSONParseError {
        let hex = String(unit, radix: 16, uppercase: true)
        return JSONParseError(offset: offset, message: "lone surrogate \\u\(hex) is not a character")
    }

    private func describeEscaped(_ byte: UInt8) -> String {
        switch byte {
        case 0x21...0x7E: String(Character(Unicode.Scalar(byte)))
        default: "<byte 0x\(String(byte, radix: 16, uppercase: true))>"
        }
    }
}
