import Foundation
import ModelHostCore
import Testing

/// Runs `body` over a scanner of `text`; the body throws untyped errors, so that `#expect` may be used in it.
private func scan<Result>(_ text: String, maxDepth: Int = JSONValueParser.defaultMaxDepth, _ body: (inout JSONScanner) throws -> Result) throws -> Result {
    try JSONScanner.withScanner(over: Array(text.utf8), maxDepth: maxDepth, body)
}

/// The scanner's error for `bytes` when it skips the whole document, or `nil`.
private func skipError(_ bytes: [UInt8], maxDepth: Int = JSONValueParser.defaultMaxDepth) -> JSONParseError? {
    do throws(JSONParseError) {
        try JSONScanner.withScanner(over: bytes, maxDepth: maxDepth) { scanner throws(JSONParseError) in
            _ = try scanner.skipValue()
            try scanner.finish()
        }
        return nil
    } catch {
        return error
    }
}

@Suite("JSONScanner")
struct JSONScannerTests {
    // MARK: Strictness

    @Test("skipping refuses every invalid document the parser refuses, at the same byte with the same message", arguments: JSONValueParserTests.invalidDocuments)
    func skipRefusesLikeTheParser(_ invalid: JSONValueParserTests.Invalid) {
        let error = skipError(invalid.bytes)
        #expect(error?.offset == invalid.offset, "\(error.map(String.init(describing:)) ?? "accepted")")
        #expect(error?.message.contains(invalid.message) == true, "\(error.map(String.init(describing:)) ?? "accepted")")
    }

    @Test("reading key by key refuses invalid objects like the parser", arguments: [
        (#"{"a":1,}"#, 7, "expected a string key, found '}'"),
        (#"{"a":1 "b":2}"#, 7, "expected ',' or '}', found '\"'"),
        (#"{"a" 1}"#, 5, "expected ':' after the key, found '1'"),
        (#"{1:2}"#, 1, "expected a string key or '}', found '1'"),
        (#"{"inputs":[1],"inputs":[2]}"#, 14, #"duplicate key "inputs""#),
        (#"{"a":1,"\u0061":2}"#, 7, #"duplicate key "a""#),
        // The value is checked before the key is found to be a duplicate, as the parser does.
        (#"{"a":1,"a":[1,]}"#, 14, "expected a value, found ']'"),
        (#"{"a":1}x"#, 7, "unexpected 'x' after the JSON value"),
        (#"{"a":[1 2]}"#, 8, "expected ',' or ']', found '2'"),
    ])
    func pullRefusesLikeTheParser(_ text: String, _ offset: Int, _ message: String) {
        let outcome = Result { () throws(JSONParseError) in
            try JSONScanner.withScanner(over: Array(text.utf8)) { scanner throws(JSONParseError) in
                try scanner.beginObject()
                while let key = try scanner.nextKey() {
                    if key == "a", try scanner.peekKind() == .number { _ = try scanner.readNumber() }
                }
                try scanner.finish()
            }
        }
        guard case .failure(let scanned) = outcome else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(scanned.offset == offset, "\(scanned)")
        #expect(scanned.message.contains(message), "\(scanned)")
        do {
            _ = try JSONValueParser.parse(Array(text.utf8))
            Issue.record("the parser accepts \(text)")
        } catch {
            #expect(error == scanned)
        }
    }

    @Test("duplicate keys are refused inside skipped objects at any depth", arguments: [
        (#"[{"x":{"y":1,"y":2}}]"#, 13),
        (#"{"data":[1,{"k":[],"k":[]}]}"#, 19),
    ])
    func duplicatesInSkippedObjects(_ text: String, _ offset: Int) {
        let error = skipError(Array(text.utf8))
        #expect(error?.offset == offset)
        #expect(error?.message.hasPrefix("duplicate key") == true)
    }

    @Test("the depth limit counts the containers the scanner is inside")
    func depthLimit() throws {
        let nested = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(skipError(Array(nested.utf8)) == nil)
        let tooDeep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        #expect(skipError(Array(tooDeep.utf8))?.offset == 128)
        #expect(skipError(Array(String(repeating: "[", count: 100_000).utf8))?.message.contains("deeper than 128") == true)

        // Inside one object, 127 more levels are allowed, not 128.
        let inside = #"{"a":"# + String(repeating: "[", count: 127) + String(repeating: "]", count: 127) + "}"
        #expect(throws: Never.self) {
            try scan(inside) { scanner in
                try scanner.beginObject()
                _ = try scanner.nextKey()
                _ = try scanner.skipValue()
                try scanner.finish()
            }
        }
        let pastIt = #"{"a":"# + String(repeating: "[", count: 128) + String(repeating: "]", count: 128) + "}"
        let error = #expect(throws: JSONParseError.self) {
            try scan(pastIt) { scanner in
                try scanner.beginObject()
                _ = try scanner.nextKey()
                _ = try scanner.skipValue()
            }
        }
        #expect(error?.offset == 5 + 127)
        #expect(throws: JSONParseError.self) { try scan("[[]]", maxDepth: 1) { scanner in try scanner.finish() } }
    }

    // MARK: Reading

    @Test("keys, scalars and nested containers are read in order")
    func pullReading() throws {
        let text = #" {"id": "r-1", "n": -0, "big": 18446744073709551615, "ok": true, "none": null, "list": [1, "two", [3]], "skip": {"deep": [1, 2]}} "#
        var seen: [String] = []
        try scan(text) { scanner in
            #expect(try scanner.peekKind() == .object)
            try scanner.beginObject()
            #expect(scanner.depth == 1)
            while let key = try scanner.nextKey() {
                seen.append(key)
                switch key {
                case "id": #expect(try scanner.readString() == "r-1")
                case "n": #expect(try scanner.readNumber() == .double(-0.0))
                case "big": #expect(try scanner.readNumber() == .unsignedInteger(.max))
                case "ok": #expect(try scanner.readBool())
                case "none": try scanner.readNull()
                case "list":
                    try scanner.beginArray()
                    #expect(try scanner.nextElement())
                    #expect(try scanner.readNumber() == .integer(1))
                    #expect(try scanner.nextElement())
                    #expect(try scanner.peekKind() == .string)
                    #expect(try scanner.nextElement())  // "two" was not read: it is skipped
                    #expect(try scanner.readValue() == .array([.integer(3)]))
                    #expect(try scanner.nextElement() == false)
                default: break  // "skip" is skipped by the next nextKey()
                }
            }
            #expect(scanner.depth == 0)
            try scanner.finish()
        }
        #expect(seen == ["id", "n", "big", "ok", "none", "list", "skip"])
    }

    @Test("reading a value of another type is refused, naming both types")
    func typeMismatch() {
        let error = #expect(throws: JSONParseError.self) {
            try scan(#"{"a": 5}"#) { scanner in
                try scanner.beginObject()
                _ = try scanner.nextKey()
                _ = try scanner.readString()
            }
        }
        #expect(error == JSONParseError(offset: 6, message: "expected a string, found a number"))
        #expect(throws: JSONParseError(offset: 0, message: "expected an object, found an array")) {
            try scan("[]") { scanner in try scanner.beginObject() }
        }
        #expect(throws: JSONParseError(offset: 1, message: "expected a value, found 'x'")) {
            try scan(" x") { scanner in try scanner.peekKind() }
        }
    }

    @Test("finish skips what was not read and refuses what follows the document")
    func finish() throws {
        try scan(#"{"a": [1, {"b": 2}], "c": 3}"#) { scanner in
            try scanner.beginObject()
            _ = try scanner.nextKey()
            try scanner.beginArray()
            try scanner.finish()
        }
        try scan(" 7 ") { scanner in try scanner.finish() }
        #expect(throws: JSONParseError(offset: 4, message: "unexpected '1' after the JSON value")) {
            try scan("[0] 1") { scanner in try scanner.finish() }
        }
    }

    @Test("readValue gives what the parser gives", arguments: [
        #"{"k": [1, -0.5, "s", true, null, {"x": []}]}"#, #""\u00e9\ud83d\ude00""#, "1e-400", "[[], {}]", "123456789012345678901234567890",
    ])
    func readValue(_ text: String) throws {
        let value = try scan(text) { scanner in
            let value = try scanner.readValue()
            try scanner.finish()
            return value
        }
        #expect(value == (try JSONValueParser.parse(Array(text.utf8))))
    }

    // MARK: Skipping and measuring

    struct Measure: Sendable, CustomTestStringConvertible {
        var text: String
        var kind: JSONScanner.ValueKind
        var shape: [Int]?
        var count: Int
        var isNested: Bool
        var testDescription: String { text }
    }

    @Test("skipping measures shape, rectangularity and element count", arguments: [
        Measure(text: "1.5", kind: .number, shape: [], count: 1, isNested: false),
        Measure(text: #""s""#, kind: .string, shape: [], count: 1, isNested: false),
        Measure(text: #"{"a": [1, 2]}"#, kind: .object, shape: [], count: 1, isNested: false),
        Measure(text: "[]", kind: .array, shape: [0], count: 0, isNested: false),
        Measure(text: "[1, 2, 3]", kind: .array, shape: [3], count: 3, isNested: false),
        Measure(text: "[[1, 2], [3, 4], [5, 6]]", kind: .array, shape: [3, 2], count: 6, isNested: true),
        Measure(text: "[[[1]], [[2]]]", kind: .array, shape: [2, 1, 1], count: 2, isNested: true),
        Measure(text: "[[], []]", kind: .array, shape: [2, 0], count: 0, isNested: true),
        Measure(text: "[[[]], [[]]]", kind: .array, shape: [2, 1, 0], count: 0, isNested: true),
        Measure(text: #"[{"a": [1, 2]}, {"b": [[3]]}]"#, kind: .array, shape: [2], count: 2, isNested: false),
        Measure(text: #"[["a", null], [true, {}]]"#, kind: .array, shape: [2, 2], count: 4, isNested: true),
        // Ragged.
        Measure(text: "[[1], [2, 3]]", kind: .array, shape: nil, count: 3, isNested: true),
        Measure(text: "[1, [2]]", kind: .array, shape: nil, count: 2, isNested: true),
        Measure(text: "[[1], 2]", kind: .array, shape: nil, count: 2, isNested: true),
        Measure(text: "[[], [1]]", kind: .array, shape: nil, count: 1, isNested: true),
        Measure(text: "[[1], [[2]]]", kind: .array, shape: nil, count: 2, isNested: true),
        Measure(text: "[[[1, 2]], [[3]]]", kind: .array, shape: nil, count: 3, isNested: true),
    ])
    func measures(_ measure: Measure) throws {
        let text = "  \(measure.text)  "
        let skipped = try scan(text) { scanner in
            let skipped = try scanner.skipValue()
            try scanner.finish()
            return skipped
        }
        #expect(skipped.range == 2..<(2 + measure.text.utf8.count))
        #expect(skipped.kind == measure.kind)
        #expect(skipped.arrayShape == measure.shape)
        #expect(skipped.elementCount == measure.count)
        #expect(skipped.hasNestedArray == measure.isNested)
        #expect(skipped.arrayShape == (try JSONValueParser.parse(Array(measure.text.utf8))).arrayShape)
    }

    @Test("the measure agrees with the parsed value on generated documents")
    func measureAgreesWithTheTree() throws {
        var generator = SplitMix64(seed: 7)
        for round in 0..<2_000 {
            let value = round.isMultiple(of: 2) ? JSONValueParserTests.randomValue(depth: 0, using: &generator) : Self.randomArray(depth: 0, using: &generator)
            var writer = JSONWriter()
            writer.write(value)
            let skipped = try scan(writer.text) { scanner in try scanner.skipValue() }
            #expect(skipped.range == 0..<writer.bytes.count)
            #expect(skipped.arrayShape == value.arrayShape, "\(writer.text)")
            #expect(skipped.elementCount == Self.flattenedCount(value), "\(writer.text)")
        }
    }

    /// Arrays of small integers, rectangular more often than not.
    static func randomArray(depth: Int, using generator: inout SplitMix64) -> JSONValue {
        guard depth < 4, Int.random(in: 0..<4, using: &generator) != 0 else { return .integer(Int64(depth)) }
        let count = Int.random(in: 0...3, using: &generator)
        let template = randomArray(depth: depth + 1, using: &generator)
        let isRagged = Int.random(in: 0..<5, using: &generator) == 0
        return .array((0..<count).map { _ in isRagged ? randomArray(depth: depth + 1, using: &generator) : template })
    }

    static func flattenedCount(_ value: JSONValue) -> Int {
        guard case .array(let elements) = value else { return 1 }
        return elements.reduce(0) { $0 + flattenedCount($1) }
    }

    @Test("a skipped value in a larger document is located by its range")
    func rangeInDocument() throws {
        let text = #"{"inputs": [{"data": [[1, 2], [3, 4]], "name": "x"}]}"#
        let skipped = try scan(text) { scanner in
            try scanner.beginObject()
            _ = try scanner.nextKey()
            try scanner.beginArray()
            _ = try scanner.nextElement()
            try scanner.beginObject()
            _ = try scanner.nextKey()
            let skipped = try scanner.skipValue()
            #expect(try scanner.nextKey() == "name")
            try scanner.finish()
            return skipped
        }
        let bytes = Array(text.utf8)
        #expect(String(decoding: bytes[skipped.range], as: UTF8.self) == "[[1, 2], [3, 4]]")
        #expect(skipped.arrayShape == [2, 2])
    }

    @Test("numbers far out of range are refused when skipped, plainly finite ones are not converted", arguments: [
        ("1e308", true), ("9.99e307", true), ("179769313486231570000000000000000000000e270", true), ("1e-400", true),
        ("0.0000000000000000000000000000000000001e340", true), ("1e309", false), ("-2e308", false), ("1" + String(repeating: "0", count: 400), false),
    ])
    func numberRange(_ text: String, _ isFinite: Bool) {
        #expect((skipError(Array(text.utf8)) == nil) == isFinite)
        #expect(((try? JSONValueParser.parse(Array(text.utf8))) != nil) == isFinite)
    }
}
