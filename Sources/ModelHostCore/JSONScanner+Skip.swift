extension JSONScanner {
    /// What a skipped value was: where it lies, its type, and for nested arrays their shape.
    public struct SkippedValue: Sendable, Hashable {
        /// Where the value lies in the document: from its first byte to just after its last.
        public var range: Range<Int>
        /// The value's type.
        public var kind: ValueKind
        /// The dimensions of rectangular nested arrays — `[[1, 2], [3, 4]]` is `[2, 2]` and `[]`
        /// is `[0]` — or `[]` for a value that is not an array, or `nil` when the nesting is ragged
        /// (`[[1], [2, 3]]`, `[1, [2]]`): what ``JSONValue/arrayShape`` says of the parsed value.
        public var arrayShape: [Int]?
        /// How many values that are not arrays the value holds at any depth of array nesting, as
        /// flattening it gives them: an object counts as one, whatever it holds, and a value that
        /// is not an array is one.
        public var elementCount: Int
        /// Whether the value is an array with an array among its elements.
        public var hasNestedArray: Bool

        /// Creates a description of a skipped value.
        public init(range: Range<Int>, kind: ValueKind, arrayShape: [Int]?, elementCount: Int, hasNestedArray: Bool) {
            self.range = range
            self.kind = kind
            self.arrayShape = arrayShape
            self.elementCount = elementCount
            self.hasNestedArray = hasNestedArray
        }
    }

    /// Skips the next value, checking it as strictly as reading it would, and measures it.
    ///
    /// Nothing is built and nothing is allocated per element: a value that is not an array or
    /// object costs no allocation at all, and one that is costs a stack of its open containers
    /// and one entry per level of array nesting.
    ///
    /// - Returns: Where the value lies and, for arrays, its shape and element count.
    /// - Throws: ``JSONParseError`` for malformed text, duplicate keys or nesting past ``maxDepth``.
    public mutating func skipValue() throws(JSONParseError) -> SkippedValue {
        let kind = try peekKind()
        let start = lexer.index
        var skipped: SkippedValue
        switch kind {
        case .array, .object:
            var measure = ArrayMeasure()
            try skipContainer(measuring: &measure)
            skipped = SkippedValue(
                range: start..<lexer.index, kind: kind, arrayShape: measure.shape, elementCount: measure.elementCount,
                hasNestedArray: measure.hasNestedArray
            )
        default:
            _ = try lexer.skipScalar()
            skipped = SkippedValue(range: start..<lexer.index, kind: kind, arrayShape: [], elementCount: 1, hasNestedArray: false)
        }
        valueRead()
        return skipped
    }

    /// Skips the array or object at the cursor without recursion.
    private mutating func skipContainer(measuring measure: inout ArrayMeasure) throws(JSONParseError) {
        /// A container open inside the skipped value.
        struct Open {
            var isObject: Bool
            var count = 0
            var keys = ObjectKeys()
            var key = ""
            var keyOffset = 0
        }
        var open: [Open] = []
        // Inside an object, arrays are its members' business, not part of the measured shape.
        var objectDepth = 0

        nextValue: while true {
            guard let byte = lexer.peek else { throw lexer.unexpected(expecting: "a value") }
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                guard frames.count + open.count < maxDepth else { throw lexer.tooDeep(maxDepth) }
                let isObject = byte == UInt8(ascii: "{")
                lexer.index += 1
                lexer.skipWhitespace()
                if isObject {
                    if lexer.peek == UInt8(ascii: "}") {
                        lexer.index += 1
                        if objectDepth == 0 { measure.leaf(atDepth: open.count) }
                    } else {
                        let (key, keyOffset) = try lexer.readKey(expecting: "a string key or '}'")
                        open.append(Open(isObject: true, key: key, keyOffset: keyOffset))
                        objectDepth += 1
                        continue nextValue
                    }
                } else {
                    if lexer.peek == UInt8(ascii: "]") {
                        lexer.index += 1
                        if objectDepth == 0 { measure.array(of: 0, atDepth: open.count) }
                    } else {
                        open.append(Open(isObject: false))
                        continue nextValue
                    }
                }
            default:
                _ = try lexer.skipScalar()
                if objectDepth == 0 { measure.leaf(atDepth: open.count) }
            }

            // A value is complete: continue its container, closing containers as they end.
            while true {
                let last = open.count - 1
                guard last >= 0 else { return }
                lexer.skipWhitespace()
                if open[last].isObject {
                    let key = open[last].key
                    guard open[last].keys.insert(key) else { throw lexer.duplicateKey(key, at: open[last].keyOffset) }
                    switch lexer.peek {
                    case UInt8(ascii: ","):
                        lexer.index += 1
                        lexer.skipWhitespace()
                        (open[last].key, open[last].keyOffset) = try lexer.readKey(expecting: "a string key")
                        continue nextValue
                    case UInt8(ascii: "}"):
                        lexer.index += 1
                        open.removeLast()
                        objectDepth -= 1
                        if objectDepth == 0 { measure.leaf(atDepth: open.count) }
                    default:
                        throw lexer.unexpected(expecting: "',' or '}'")
                    }
                } else {
                    open[last].count += 1
                    switch lexer.peek {
                    case UInt8(ascii: ","):
                        lexer.index += 1
                        lexer.skipWhitespace()
                        continue nextValue
                    case UInt8(ascii: "]"):
                        lexer.index += 1
                        let count = open.removeLast().count
                        if objectDepth == 0 { measure.array(of: count, atDepth: open.count) }
                    default:
                        throw lexer.unexpected(expecting: "',' or ']'")
                    }
                }
            }
        }
    }
}

/// The shape of nested arrays, learnt one value at a time.
///
/// Nested arrays are rectangular exactly when, at each depth, every value is an array of one
/// same length or every value is not an array; so one entry per depth suffices, however many
/// elements there are.
private struct ArrayMeasure {
    /// Per depth: `nil` before any value was seen there, `-1` for values that are not arrays, and
    /// otherwise the length of the arrays there.
    private var levels: [Int?] = []
    private var isRagged = false
    private(set) var elementCount = 0
    private(set) var hasNestedArray = false

    /// Records a value that is not an array.
    mutating func leaf(atDepth depth: Int) {
        elementCount += 1
        record(-1, atDepth: depth)
    }

    /// Records an array that has ended.
    mutating func array(of count: Int, atDepth depth: Int) {
        if depth == 1 { hasNestedArray = true }
        record(count, atDepth: depth)
    }

    private mutating func record(_ entry: Int, atDepth depth: Int) {
        while levels.count <= depth { levels.append(nil) }
        if let seen = levels[depth] {
            if seen != entry { isRagged = true }
        } else {
            levels[depth] = entry
        }
    }

    /// The shape as ``JSONValue/arrayShape`` gives it.
    var shape: [Int]? {
        guard !isRagged else { return nil }
        var shape: [Int] = []
        for level in levels {
            guard let length = level, length >= 0 else { break }
            shape.append(length)
        }
        return shape
    }
}
