/// Builds JSON text into a byte buffer, without an intermediate object graph.
///
/// The HTTP edge writes responses with it; it escapes strings per RFC 8259 and refuses
/// non-finite numbers, which JSON cannot represent.
///
/// Containers opened with ``beginObject()`` and ``beginArray()`` place their own commas: write
/// keys and values in order and the separators follow.
///
/// ```swift
/// var writer = JSONWriter()
/// writer.beginObject()
/// writer.key("name"); writer.string("echo")
/// writer.key("shape"); writer.beginArray(); writer.number(4); writer.endArray()
/// writer.endObject()   // {"name":"echo","shape":[4]}
/// ```
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// For each open container, whether nothing has been written in it yet.
    private var isContainerEmpty: [Bool] = []
    /// Whether a key was just written, so the next value follows its colon without a comma.
    private var isAfterKey = false

    /// Creates an empty writer.
    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    /// The bytes written so far, as text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends raw JSON text (`null`, `true`), with no separator.
    public mutating func raw(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Opens an object.
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        isContainerEmpty.append(true)
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        isContainerEmpty.removeLast()
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        isContainerEmpty.append(true)
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        isContainerEmpty.removeLast()
    }

    /// Writes the comma a value needs in its container, if any.
    private mutating func separate() {
        if isAfterKey {
            isAfterKey = false
        } else if let isEmpty = isContainerEmpty.last {
            if isEmpty {
                isContainerEmpty[isContainerEmpty.count - 1] = false
            } else {
                bytes.append(UInt8(ascii: ","))
            }
        }
    }

    /// Appends a quoted, escaped string.
    public mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    /// Appends a quoted, escaped string from UTF-8 bytes the caller has checked.
    public mutating func string(utf8: UnsafeRawBufferPointer) {
        separate()
        appendString(utf8: utf8)
    }

    private mutating func appendString(_ value: String) {
        var value = value
        value.withUTF8 { appendString(utf8: UnsafeRawBufferPointer($0)) }
    }

    private mutating func appendString(utf8: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let digits = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Appends an object key and its colon; the next value written is the key's.
    public mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        isAfterKey = true
    }

    /// Appends an integer.
    public mutating func number<Integer: BinaryInteger>(_ value: Integer) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Appends a finite floating-point number in its shortest round-tripping form.
    ///
    /// - Returns: `false`, writing nothing, when the value is NaN or infinite.
    @discardableResult
    public mutating func number<Float: BinaryFloatingPoint & LosslessStringConvertible>(_ value: Float) -> Bool {
        guard value.isFinite else { return false }
        separate()
        bytes.append(contentsOf: value.description.utf8)
        return true
    }

    /// Appends a finite floating-point number, or `null` for `nil`, NaN or an infinity: a figure
    /// that is not known yet, or not a number.
    public mutating func number(orNull value: Double?) {
        if let value, number(value) { return }
        write(.null)
    }

    /// Appends a boolean.
    public mutating func bool(_ value: Bool) {
        separate()
        value ? raw("true") : raw("false")
    }

    /// Appends any JSON value; object keys are written sorted, non-finite doubles as `null`.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null:
            separate()
            raw("null")
        case .bool(let flag): bool(flag)
        case .integer(let integer): number(integer)
        case .unsignedInteger(let integer): number(integer)
        case .double(let double):
            if !number(double) {
                separate()
                raw("null")
            }
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { write(element) }
            endArray()
        case .object(let members):
            beginObject()
            for name in members.keys.sorted() {
                key(name)
                write(members[name]!)
            }
            endObject()
        }
    }
}
