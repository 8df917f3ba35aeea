import Logging

/// JSON text for log lines: escaped strings, and metadata values with numbers kept as numbers.
enum JSONText {
    /// Appends `value` as a JSON string.
    static func appendString(_ value: String, to text: inout String) {
        text += "\""
        let needsEscaping = value.utf8.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
        guard needsEscaping else {
            text += value
            text += "\""
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }

    /// Appends a metadata value: a string, a number or Boolean when it is one, an object or array.
    /// The values of secret-looking keys inside objects are redacted.
    static func append(_ value: Logger.MetadataValue, to text: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &text)
        case .stringConvertible(let convertible):
            switch convertible {
            case let bool as Bool:
                text += bool ? "true" : "false"
            case let integer as any BinaryInteger:
                text += integer.description
            case let double as Double where double.isFinite:
                text += double.description
            case let float as Float where float.isFinite:
                text += float.description
            default:
                appendString(convertible.description, to: &text)
            }
        case .dictionary(let dictionary):
            text += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { text += "," }
                appendString(key, to: &text)
                text += ":"
                if SecretRedaction.isSecret(key) {
                    appendString(SecretRedaction.placeholder, to: &text)
                } else {
                    append(dictionary[key]!, to: &text)
                }
            }
            text += "}"
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                append(element, to: &text)
            }
            text += "]"
        }
    }
}
