import Logging

/// The bytes of one JSON log line as they are built: escaped strings, numbers, and metadata with
/// secret-named values redacted at every depth.
struct JSONLine {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends bytes that need no escaping.
    @inline(__always)
    mutating func appendRaw(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// Appends ASCII text that needs no escaping.
    @inline(__always)
    mutating func appendRaw(_ raw: StaticString) {
        raw.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func appendByte(_ byte: UInt8) {
        bytes.append(byte)
    }

    /// Appends `string` as a JSON string, quoted and escaped.
    mutating func appendString(_ string: String) {
        var string = string
        string.withUTF8 { appendString(utf8: $0) }
    }

    /// Appends the UTF-8 text `utf8` as a JSON string, quoted and escaped: `"` and `\` behind a
    /// backslash, control characters as short escapes or `\u00XX`, everything else as it is.
    mutating func appendString(utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if runStart < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
            appendEscape(byte)
            runStart = index + 1
        }
        if runStart < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscape(_ byte: UInt8) {
        bytes.append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
        case 0x08: bytes.append(UInt8(ascii: "b"))
        case 0x09: bytes.append(UInt8(ascii: "t"))
        case 0x0A: bytes.append(UInt8(ascii: "n"))
        case 0x0C: bytes.append(UInt8(ascii: "f"))
        case 0x0D: bytes.append(UInt8(ascii: "r"))
        default:
            appendRaw("u00")
            bytes.append(Self.hexDigit(byte >> 4))
            bytes.append(Self.hexDigit(byte & 0x0F))
        }
    }

    @inline(__always)
    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    /// Appends a metadata value: strings as strings, numbers and Booleans as themselves,
    /// dictionaries as objects and arrays as arrays.
    mutating func appendValue(_ value: Logger.Metadata.Value) {
        switch value {
        case .string(let string):
            appendString(string)
        case .stringConvertible(let convertible):
            appendConvertible(convertible)
        case .dictionary(let dictionary):
            appendObject(dictionary)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                appendValue(element)
            }
            bytes.append(UInt8(ascii: "]"))
        }
    }

    /// A Swift integer or finite floating-point number as a JSON number, a Bool as a JSON Boolean,
    /// anything else (an infinity or NaN too) as its description in a string.
    ///
    /// The standard integer, floating-point and Boolean types are recognised by their metatype,
    /// a pointer comparison; only other types pay for a dynamic cast to `any BinaryInteger`.
    private mutating func appendConvertible(_ convertible: any CustomStringConvertible & Sendable) {
        let type = type(of: convertible)
        if type == Int.self || type == Int64.self || type == Int32.self || type == UInt64.self || type == UInt.self
            || type == UInt32.self || type == Int16.self || type == UInt16.self || type == Int8.self || type == UInt8.self
            || type == Bool.self
        {
            // Decimal digits, or `true` / `false`.
            appendString(unquoted: convertible.description)
        } else if type == Double.self || type == Float.self {
            appendFloatingPoint(convertible.description)
        } else if let integer = convertible as? any BinaryInteger {
            appendString(unquoted: integer.description)
        } else {
            appendString(convertible.description)
        }
    }

    /// A floating-point value's description: a finite value's (Swift's shortest round-trip form,
    /// such as `0.25`, `-3.0` or `1e-05`, is valid JSON) as a number, and `inf`, `-inf`, `nan`
    /// and their kin, which start with no digit, as strings.
    private mutating func appendFloatingPoint(_ description: String) {
        var description = description
        let isFinite = description.withUTF8 { utf8 in
            let digit = utf8.first == UInt8(ascii: "-") ? 1 : 0
            return utf8.count > digit && utf8[digit] &- UInt8(ascii: "0") < 10
        }
        if isFinite { appendString(unquoted: description) } else { appendString(description) }
    }

    /// Appends text known to need no escaping, without quotes.
    mutating func appendString(unquoted text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends `value` in decimal digits.
    mutating func appendInteger(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude, minimumDigits: 1, to: &bytes)
    }

    /// Appends `duration` as a JSON number of seconds to the microsecond (`0.000412`, `12.500000`);
    /// a negative duration, which no clock measures, as `0.000000`.
    mutating func appendSeconds(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else {
            appendRaw("0.000000")
            return
        }
        appendDecimal(UInt(seconds), minimumDigits: 1, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDecimal(UInt(attoseconds / 1_000_000_000_000), minimumDigits: 6, to: &bytes)
    }

    /// Appends `timestamp` in RFC 3339 form, without quotes.
    mutating func appendTimestamp(_ timestamp: LogTimestamp) {
        timestamp.append(to: &bytes)
    }

    /// Appends `dictionary` as a JSON object, in `MetadataOrder`, each secret-named value redacted.
    mutating func appendObject(_ dictionary: Logger.Metadata) {
        bytes.append(UInt8(ascii: "{"))
        var isFirst = true
        MetadataOrder.forEach(in: dictionary) { key, value in
            if !isFirst { bytes.append(UInt8(ascii: ",")) }
            isFirst = false
            appendMember(key: key, value: value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// Appends `"key":value`, the value redacted when the key looks secret.
    mutating func appendMember(key: String, value: Logger.Metadata.Value) {
        var key = key
        let isSecret = key.withUTF8 { utf8 in
            appendString(utf8: utf8)
            return SecretRedaction.isSecret(bytes: utf8)
        }
        bytes.append(UInt8(ascii: ":"))
        if isSecret {
            appendRaw(Self.quotedPlaceholder)
        } else {
            appendValue(value)
        }
    }

    /// `SecretRedaction.placeholder` as a JSON string.
    private static let quotedPlaceholder: [UInt8] = {
        var line = JSONLine(capacity: 16)
        line.appendString(SecretRedaction.placeholder)
        return line.bytes
    }()
}
