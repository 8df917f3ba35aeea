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

/// The parser's state over one document: a lexer, and explicit stacks in place of recursion.
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

    let maxDepth: Int
    private var lexer: JSONLexer

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.lexer = JSONLexer(bytes: bytes)
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        var frames: [Frame] = []
        // Elements of all open arrays, innermost last: each array is built once at its exact size.
        var elements: [JSONValue] = []
        // Members of all open objects, innermost last, filled in place.
        var objects: [[String: JSONValue]] = []
        lexer.skipWhitespace()

        nextValue: while true {
            var value: JSONValue
            guard let byte = lexer.peek else { throw lexer.unexpected(expecting: "a value") }
            switch byte {
            case UInt8(ascii: "{"):
                guard frames.count < maxDepth else { throw lexer.tooDeep(maxDepth) }
                lexer.index += 1
                lexer.skipWhitespace()
                if lexer.peek == UInt8(ascii: "}") {
                    lexer.index += 1
                    value = .object([:])
                } else {
                    let (key, keyOffset) = try lexer.readKey(expecting: "a string key or '}'")
                    frames.append(Frame(isObject: true, start: 0, key: key, keyOffset: keyOffset))
                    objects.append([:])
                    continue nextValue
                }
            case UInt8(ascii: "["):
                guard frames.count < maxDepth else { throw lexer.tooDeep(maxDepth) }
                lexer.index += 1
                lexer.skipWhitespace()
                if lexer.peek == UInt8(ascii: "]") {
                    lexer.index += 1
                    value = .array([])
                } else {
                    frames.append(Frame(isObject: false, start: elements.count, key: "", keyOffset: 0))
                    continue nextValue
                }
            case UInt8(ascii: "\""): value = .string(try lexer.readString())
            case UInt8(ascii: "t"): try lexer.readLiteral("true"); value = .bool(true)
            case UInt8(ascii: "f"): try lexer.readLiteral("false"); value = .bool(false)
            case UInt8(ascii: "n"): try lexer.readLiteral("null"); value = .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): value = try lexer.readNumber().jsonValue
            default: throw lexer.unexpected(expecting: "a value")
            }

            // A value is complete: add it to the open container, closing containers as they end.
            while true {
                lexer.skipWhitespace()
                guard let frame = frames.last else {
                    guard lexer.peek == nil else { throw lexer.trailingBytes() }
                    return value
                }
                if frame.isObject {
                    if objects[objects.count - 1].updateValue(value, forKey: frame.key) != nil {
                        throw lexer.duplicateKey(frame.key, at: frame.keyOffset)
                    }
                    switch lexer.peek {
                    case UInt8(ascii: ","):
                        lexer.index += 1
                        lexer.skipWhitespace()
                        let (key, keyOffset) = try lexer.readKey(expecting: "a string key")
                        frames[frames.count - 1].key = key
                        frames[frames.count - 1].keyOffset = keyOffset
                        continue nextValue
                    case UInt8(ascii: "}"):
                        lexer.index += 1
                        frames.removeLast()
                        value = .object(objects.removeLast())
                    default:
                        throw lexer.unexpected(expecting: "',' or '}'")
                    }
                } else {
                    elements.append(value)
                    switch lexer.peek {
                    case UInt8(ascii: ","):
                        lexer.index += 1
                        lexer.skipWhitespace()
                        continue nextValue
                    case UInt8(ascii: "]"):
                        lexer.index += 1
                        frames.removeLast()
                        value = .array(Array(elements[frame.start...]))
                        elements.removeSubrange(frame.start...)
                    default:
                        throw lexer.unexpected(expecting: "',' or ']'")
                    }
                }
            }
        }
    }
}
