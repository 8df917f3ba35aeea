/// A pull-style reader of one strict JSON document: the caller asks for the next key, element or
/// value, and skips what it does not need without building it.
///
/// The scanner refuses what ``JSONValueParser`` refuses, with the same messages and offsets:
/// everything RFC 8259 does not allow, duplicate keys in any object it reads or skips, and nesting
/// deeper than ``maxDepth``. Errors are ``JSONParseError``s, thrown at the first problem in
/// document order.
///
/// ```swift
/// try JSONScanner.withScanner(over: body) { scanner throws(JSONParseError) in
///     try scanner.beginObject()
///     while let key = try scanner.nextKey() {
///         if key == "id" { id = try scanner.readString() }  // other values are skipped
///     }
///     try scanner.finish()
/// }
/// ```
///
/// A value is read where one is due: at the top of the document, after ``nextKey()`` returned a
/// key, or after ``nextElement()`` returned `true`. Asking for a value elsewhere is a programming
/// error and traps. A value that is not read is skipped by the next ``nextKey()``,
/// ``nextElement()`` or ``finish()``.
///
/// The scanner reads memory it does not own: use it only while that memory is valid, as inside
/// ``withScanner(over:maxDepth:_:)``.
public struct JSONScanner {
    /// The type of a JSON value.
    public enum ValueKind: Sendable, Hashable, CustomStringConvertible {
        /// `null`.
        case null
        /// `true` or `false`.
        case bool
        /// A number, integer or not.
        case number
        /// A string.
        case string
        /// An array.
        case array
        /// An object.
        case object

        /// The type's name as messages use it: "a string", "an array", as
        /// ``JSONValue/kindDescription`` gives it.
        public var description: String {
            switch self {
            case .null: "null"
            case .bool: "a boolean"
            case .number: "a number"
            case .string: "a string"
            case .array: "an array"
            case .object: "an object"
            }
        }
    }

    /// An open array or object.
    struct Frame {
        enum State {
            /// Just opened: nothing read yet.
            case start
            /// A value is due: after a key, or after ``nextElement()`` returned `true`.
            case value
            /// A value was read; a comma or the close is next.
            case afterValue
        }

        var isObject: Bool
        var state: State = .start
        /// For an object, the keys whose values were read, and the last key with its offset.
        var keys = ObjectKeys()
        var key = ""
        var keyOffset = 0
    }

    /// How deeply arrays and objects may nest; `[[1]]` has depth 2.
    public let maxDepth: Int
    var lexer: JSONLexer
    var frames: [Frame] = []
    /// Whether the document's top-level value has been read.
    var isTopLevelRead = false

    /// Creates a scanner over a document held in raw memory, which must stay valid and unchanged
    /// while the scanner is used.
    ///
    /// - Parameters:
    ///   - buffer: The document as UTF-8, without a byte order mark.
    ///   - maxDepth: How deeply arrays and objects may nest.
    public init(_ buffer: UnsafeRawBufferPointer, maxDepth: Int = JSONValueParser.defaultMaxDepth) {
        self.lexer = JSONLexer(bytes: buffer.assumingMemoryBound(to: UInt8.self))
        self.maxDepth = maxDepth
    }

    /// Runs `body` with a scanner over `bytes`.
    ///
    /// Contiguous collections (`[UInt8]`, `Data`, NIO's `ByteBufferView`, a native string's
    /// `utf8`) are read in place; any other collection is copied first.
    ///
    /// - Parameters:
    ///   - bytes: The document as UTF-8, without a byte order mark.
    ///   - maxDepth: How deeply arrays and objects may nest.
    ///   - body: What to read; the scanner is valid only inside it.
    /// - Returns: What `body` returns.
    /// - Throws: What `body` throws.
    public static func withScanner<Result, Failure: Error>(
        over bytes: some Collection<UInt8>,
        maxDepth: Int = JSONValueParser.defaultMaxDepth,
        _ body: (inout JSONScanner) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        // `withContiguousStorageIfAvailable` only rethrows untyped errors, hence the `Swift.Result`.
        func run(_ buffer: UnsafeBufferPointer<UInt8>) -> Swift.Result<Result, Failure> {
            var scanner = JSONScanner(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth)
            do throws(Failure) {
                return .success(try body(&scanner))
            } catch {
                return .failure(error)
            }
        }
        let outcome = bytes.withContiguousStorageIfAvailable(run) ?? Array(bytes).withUnsafeBufferPointer(run)
        return try outcome.get()
    }

    /// The offset of the next byte to read.
    public var offset: Int { lexer.index }

    /// How many arrays and objects are open.
    public var depth: Int { frames.count }

    // MARK: Containers

    /// Reads the `{` that opens the object which is the next value.
    ///
    /// - Throws: ``JSONParseError`` when the next value is not an object or nests too deeply.
    public mutating func beginObject() throws(JSONParseError) {
        try open(.object)
    }

    /// Reads the `[` that opens the array which is the next value.
    ///
    /// - Throws: ``JSONParseError`` when the next value is not an array or nests too deeply.
    public mutating func beginArray() throws(JSONParseError) {
        try open(.array)
    }

    /// Reads the next key of the innermost open object and the colon after it, skipping the value
    /// of the previous key if it was not read.
    ///
    /// - Returns: The key, or `nil` when the object has ended (its `}` is read).
    /// - Throws: ``JSONParseError`` for a duplicate key or malformed text.
    public mutating func nextKey() throws(JSONParseError) -> String? {
        precondition(frames.last?.isObject == true, "nextKey() outside an object")
        let last = frames.count - 1
        switch frames[last].state {
        case .start:
            lexer.skipWhitespace()
            if lexer.peek == UInt8(ascii: "}") {
                close()
                return nil
            }
            return try readKey(expecting: "a string key or '}'")
        case .value:
            _ = try skipValue()
            fallthrough
        case .afterValue:
            let key = frames[last].key
            guard frames[last].keys.insert(key) else { throw lexer.duplicateKey(key, at: frames[last].keyOffset) }
            lexer.skipWhitespace()
            switch lexer.peek {
            case UInt8(ascii: ","):
                lexer.index += 1
                lexer.skipWhitespace()
                return try readKey(expecting: "a string key")
            case UInt8(ascii: "}"):
                close()
                return nil
            default:
                throw lexer.unexpected(expecting: "',' or '}'")
            }
        }
    }

    /// Moves to the next element of the innermost open array, skipping the previous element if
    /// it was not read.
    ///
    /// - Returns: `true` when an element is next, `false` when the array has ended (its `]` is read).
    /// - Throws: ``JSONParseError`` for malformed text.
    public mutating func nextElement() throws(JSONParseError) -> Bool {
        precondition(frames.last?.isObject == false, "nextElement() outside an array")
        let last = frames.count - 1
        switch frames[last].state {
        case .start:
            lexer.skipWhitespace()
            if lexer.peek == UInt8(ascii: "]") {
                close()
                return false
            }
            frames[last].state = .value
            return true
        case .value:
            _ = try skipValue()
            fallthrough
        case .afterValue:
            lexer.skipWhitespace()
            switch lexer.peek {
            case UInt8(ascii: ","):
                lexer.index += 1
                lexer.skipWhitespace()
                frames[last].state = .value
                return true
            case UInt8(ascii: "]"):
                close()
                return false
            default:
                throw lexer.unexpected(expecting: "',' or ']'")
            }
        }
    }

    /// Skips whatever is left of the document, closing every open array and object, and checks
    /// that only whitespace follows.
    ///
    /// - Throws: ``JSONParseError`` for malformed text, or text after the document's value.
    public mutating func finish() throws(JSONParseError) {
        if !isTopLevelRead && frames.isEmpty { _ = try skipValue() }
        while let frame = frames.last {
            if frame.isObject {
                while try nextKey() != nil {}
            } else {
                while try nextElement() {}
            }
        }
        lexer.skipWhitespace()
        guard lexer.peek == nil else { throw lexer.trailingBytes() }
    }

    // MARK: Values

    /// The type of the next value, which is not read.
    ///
    /// - Throws: ``JSONParseError`` when no value starts at the cursor.
    public mutating func peekKind() throws(JSONParseError) -> ValueKind {
        precondition(isValueDue, "no value is due here; call nextKey() or nextElement() first")
        lexer.skipWhitespace()
        guard let byte = lexer.peek else { throw lexer.unexpected(expecting: "a value") }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        default: throw lexer.unexpected(expecting: "a value")
        }
    }

    /// Reads the next value, which must be a string.
    ///
    /// - Throws: ``JSONParseError`` when it is not a string or is malformed.
    public mutating func readString() throws(JSONParseError) -> String {
        try expect(.string)
        let text = try lexer.readString()
        valueRead()
        return text
    }

    /// Reads the next value, which must be a number, as ``JSONValueParser`` keeps it:
    /// ``JSONValue/integer(_:)``, ``JSONValue/unsignedInteger(_:)`` or ``JSONValue/double(_:)``.
    ///
    /// - Throws: ``JSONParseError`` when it is not a number, is malformed or out of range.
    public mutating func readNumber() throws(JSONParseError) -> JSONValue {
        try expect(.number)
        let number = try lexer.readNumber()
        valueRead()
        return number.jsonValue
    }

    /// Reads the next value, which must be `true` or `false`.
    ///
    /// - Throws: ``JSONParseError`` when it is not a boolean.
    public mutating func readBool() throws(JSONParseError) -> Bool {
        try expect(.bool)
        let isTrue = lexer.peek == UInt8(ascii: "t")
        try lexer.readLiteral(isTrue ? "true" : "false")
        valueRead()
        return isTrue
    }

    /// Reads the next value, which must be `null`.
    ///
    /// - Throws: ``JSONParseError`` when it is not `null`.
    public mutating func readNull() throws(JSONParseError) {
        try expect(.null)
        try lexer.readLiteral("null")
        valueRead()
    }

    /// Reads the next value, whatever it is, as a whole tree. Meant for small values such as
    /// parameters; skip large ones instead.
    ///
    /// - Throws: ``JSONParseError`` for malformed text.
    public mutating func readValue() throws(JSONParseError) -> JSONValue {
        let skipped = try skipValue()
        let text = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: lexer.bytes[skipped.range]))
        do {
            // Already checked by the skip, so this cannot fail.
            return try JSONValueParser.parse(text, maxDepth: maxDepth - frames.count)
        } catch {
            throw JSONParseError(offset: skipped.range.lowerBound + error.offset, message: error.message)
        }
    }

    // MARK: Internals

    /// Whether a value may be read now.
    var isValueDue: Bool {
        guard let frame = frames.last else { return !isTopLevelRead }
        return frame.state == .value
    }

    /// Records that the value that was due has been read.
    mutating func valueRead() {
        if frames.isEmpty {
            isTopLevelRead = true
        } else {
            frames[frames.count - 1].state = .afterValue
        }
    }

    private mutating func expect(_ kind: ValueKind) throws(JSONParseError) {
        let found = try peekKind()
        guard found == kind else {
            throw JSONParseError(offset: lexer.index, message: "expected \(kind), found \(found)")
        }
    }

    private mutating func open(_ kind: ValueKind) throws(JSONParseError) {
        try expect(kind)
        guard frames.count < maxDepth else { throw lexer.tooDeep(maxDepth) }
        lexer.index += 1
        frames.append(Frame(isObject: kind == .object))
    }

    /// Reads the closing bracket at the cursor and ends the innermost container.
    private mutating func close() {
        lexer.index += 1
        frames.removeLast()
        valueRead()
    }

    /// Reads `"key"` and the colon after it, leaving the cursor at the value.
    private mutating func readKey(expecting expected: String) throws(JSONParseError) -> String {
        let (key, offset) = try lexer.readKey(expecting: expected)
        let last = frames.count - 1
        frames[last].key = key
        frames[last].keyOffset = offset
        frames[last].state = .value
        return key
    }
}

extension JSONLexer {
    /// Reads `"key"` and the colon after it, leaving the cursor at the value.
    ///
    /// - Returns: The key and the offset of its opening quote.
    mutating func readKey(expecting expected: String) throws(JSONParseError) -> (String, Int) {
        guard peek == UInt8(ascii: "\"") else { throw unexpected(expecting: expected) }
        let offset = index
        let key = try readString()
        skipWhitespace()
        guard peek == UInt8(ascii: ":") else { throw unexpected(expecting: "':' after the key") }
        index += 1
        skipWhitespace()
        return (key, offset)
    }
}
