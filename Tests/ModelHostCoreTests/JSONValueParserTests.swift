import Foundation
import ModelHostCore
import Testing

@Suite("JSONValueParser")
struct JSONValueParserTests {
    // MARK: Valid documents

    @Test(
        "valid documents give the value they say",
        arguments: [
            ("null", JSONValue.null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("0", .integer(0)),
            ("1", .integer(1)),
            ("-17", .integer(-17)),
            ("9223372036854775807", .integer(.max)),
            ("-9223372036854775808", .integer(.min)),
            ("9223372036854775808", .unsignedInteger(1 << 63)),
            ("18446744073709551615", .unsignedInteger(.max)),
            ("18446744073709551616", .double(0x1p64)),
            ("-9223372036854775809", .double(-0x1p63)),
            ("123456789012345678901234567890", .double(1.2345678901234568e29)),
            ("1.0", .double(1)),
            ("1e2", .double(100)),
            ("1E2", .double(100)),
            ("1e+2", .double(100)),
            ("1e-2", .double(0.01)),
            ("1e002", .double(100)),
            ("-1.5e-3", .double(-0.0015)),
            ("0.1", .double(0.1)),
            ("0.30000000000000004", .double(0.30000000000000004)),
            ("3.141592653589793238462643383279", .double(.pi)),
            ("5e-324", .double(.leastNonzeroMagnitude)),
            ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
            ("1e-400", .double(0)),
            (#""""#, .string("")),
            (#""text""#, .string("text")),
            (#""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{8}\u{C}\n\r\t")),
            (#""\u0000""#, .string("\u{0}")),
            (#""\u00e9\u00C9""#, .string("éÉ")),
            (#""\uD83D\uDE00""#, .string("😀")),
            (#""\ud83d\ude00 and \u2028""#, .string("😀 and \u{2028}")),
            ("\"é€😀\"", .string("é€😀")),
            ("\"\u{7F}\"", .string("\u{7F}")),
            (#""1""#, .string("1")),
            (" \t\r\n 1 \t\r\n", .integer(1)),
            ("[]", .array([])),
            ("[ ]", .array([])),
            ("{}", .object([:])),
            ("{ }", .object([:])),
            ("[[[]]]", .array([.array([.array([])])])),
            (#"[1, "a", true, false, null, 1.5, {"k": []}]"#, .array([.integer(1), .string("a"), .bool(true), .bool(false), .null, .double(1.5), .object(["k": .array([])])])),
            (#"{"": 0, "a\u0000": 1}"#, .object(["": .integer(0), "a\u{0}": .integer(1)])),
            (#" { "b" : { "c" : [ 1 , { "d" : null } ] } , "a" : [ 2.5 ] } "#, .object(["b": .object(["c": .array([.integer(1), .object(["d": .null])])]), "a": .array([.double(2.5)])])),
        ]
    )
    func parsesValid(_ text: String, _ expected: JSONValue) throws {
        #expect(try JSONValueParser.parse(Array(text.utf8)) == expected)
    }

    @Test("negative zero keeps its sign", arguments: ["-0", "-0.0", "-0e0", "-0E+2", "-0.000", "-1e-400", "[-0]"])
    func negativeZero(_ text: String) throws {
        var value = try JSONValue(parsing: text.utf8)
        if case .array(let elements) = value { value = elements[0] }
        guard case .double(let double) = value else {
            Issue.record("\(text) gave \(value), not a double")
            return
        }
        #expect(double == 0)
        #expect(double.sign == .minus)
    }

    @Test("the text decides between integer and double", arguments: [
        ("0", "integer"), ("0.0", "double"), ("1", "integer"), ("1.0", "double"), ("1e0", "double"),
        ("10E-1", "double"), ("-5", "integer"), ("-5.00", "double"), ("18446744073709551615", "unsigned"),
    ])
    func numberKinds(_ text: String, _ kind: String) throws {
        let value = try JSONValue(parsing: text.utf8)
        switch value {
        case .integer: #expect(kind == "integer")
        case .unsignedInteger: #expect(kind == "unsigned")
        case .double(let double):
            #expect(kind == "double")
            #expect(double.sign == .plus || text.hasPrefix("-"))
        default: Issue.record("\(text) gave \(value)")
        }
    }

    @Test("decimal numbers convert exactly as Double(String) does")
    func decimalConversion() throws {
        var generator = SplitMix64(seed: 2024)
        for _ in 0..<20_000 {
            let text = Self.randomDecimal(using: &generator)
            let expected = try #require(Double(text))
            guard expected.isFinite else { continue }
            guard case .double(let parsed) = try JSONValue(parsing: text.utf8) else {
                Issue.record("\(text) did not give a double")
                continue
            }
            #expect(parsed.bitPattern == expected.bitPattern, "\(text): \(parsed) != \(expected)")
        }
    }

    // MARK: Invalid documents

    struct Invalid: Sendable, CustomTestStringConvertible {
        var label: String
        var bytes: [UInt8]
        var offset: Int
        var message: String

        init(_ text: String, at offset: Int, _ message: String) {
            self.init(text, bytes: Array(text.utf8), at: offset, message)
        }

        init(_ label: String, bytes: [UInt8], at offset: Int, _ message: String) {
            self.label = label
            self.bytes = bytes
            self.offset = offset
            self.message = message
        }

        var testDescription: String { label.count > 40 ? "\(label.prefix(40))…" : label }
    }

    static let invalidDocuments: [Invalid] = [
        // Structure.
        Invalid("", at: 0, "expected a value, found end of input"),
        Invalid("   ", at: 3, "expected a value, found end of input"),
        Invalid("[1,2,]", at: 5, "expected a value, found ']'"),
        Invalid(#"{"a":1,}"#, at: 7, "expected a string key, found '}'"),
        Invalid("[1,,2]", at: 3, "expected a value, found ','"),
        Invalid("[1 2]", at: 3, "expected ',' or ']', found '2'"),
        Invalid("[1", at: 2, "expected ',' or ']', found end of input"),
        Invalid(#"{"a":1"#, at: 6, "expected ',' or '}', found end of input"),
        Invalid(#"{"a":1 "b":2}"#, at: 7, "expected ',' or '}', found '\"'"),
        Invalid("]", at: 0, "expected a value, found ']'"),
        Invalid("{'a':1}", at: 1, "expected a string key or '}', found '''"),
        Invalid("['a']", at: 1, "expected a value, found '''"),
        Invalid("{a:1}", at: 1, "expected a string key or '}', found 'a'"),
        Invalid(#"{"a" 1}"#, at: 5, "expected ':' after the key, found '1'"),
        Invalid("{1:2}", at: 1, "expected a string key or '}', found '1'"),
        Invalid("[1 /* comment */]", at: 3, "expected ',' or ']', found '/'"),
        Invalid("// comment\n1", at: 0, "expected a value, found '/'"),
        Invalid("1 2", at: 2, "unexpected '2' after the JSON value"),
        Invalid("[1]x", at: 3, "unexpected 'x' after the JSON value"),
        Invalid("{}}", at: 2, "unexpected '}' after the JSON value"),
        Invalid("1\u{0}", at: 1, "unexpected byte 0x00 after the JSON value"),
        // Literals and whitespace.
        Invalid("tru", at: 0, "invalid literal"),
        Invalid("nul", at: 0, "invalid literal"),
        Invalid("True", at: 0, "expected a value, found 'T'"),
        Invalid("NaN", at: 0, "expected a value, found 'N'"),
        Invalid("Infinity", at: 0, "expected a value, found 'I'"),
        Invalid("-Infinity", at: 1, "expected a digit after '-', found 'I'"),
        Invalid("\u{C}1", at: 0, "expected a value, found byte 0x0C"),
        Invalid("nbsp", bytes: [0xC2, 0xA0, 0x31], at: 0, "expected a value, found byte 0xC2"),
        Invalid("byte order mark", bytes: [0xEF, 0xBB, 0xBF, 0x31], at: 0, "expected a value, found byte 0xEF"),
        // Numbers.
        Invalid("01", at: 0, "leading zeros are not allowed"),
        Invalid("-01", at: 1, "leading zeros are not allowed"),
        Invalid("[00]", at: 1, "leading zeros are not allowed"),
        Invalid("+1", at: 0, "expected a value, found '+'"),
        Invalid(".5", at: 0, "expected a value, found '.'"),
        Invalid("1.", at: 2, "expected a digit after '.', found end of input"),
        Invalid("1.e5", at: 2, "expected a digit after '.', found 'e'"),
        Invalid("1e", at: 2, "expected a digit in the exponent"),
        Invalid("1e+", at: 3, "expected a digit in the exponent"),
        Invalid("-", at: 1, "expected a digit after '-', found end of input"),
        Invalid("- 1", at: 1, "expected a digit after '-', found byte 0x20"),
        Invalid("0x10", at: 1, "unexpected 'x' after the JSON value"),
        Invalid("1e400", at: 0, "number 1e400 is out of range"),
        Invalid("[0, -1e400]", at: 4, "number -1e400 is out of range"),
        Invalid("1.7976931348623159e308", at: 0, "out of range"),
        Invalid("1" + String(repeating: "0", count: 400), at: 0, "out of range"),
        // Strings.
        Invalid(#""abc"#, at: 0, "unterminated string"),
        Invalid(#""a\"#, at: 2, "unterminated escape sequence"),
        Invalid(#""a\n"#, at: 0, "unterminated string"),
        Invalid(#""\x""#, at: 1, "invalid escape '\\x'"),
        Invalid(#""\'""#, at: 1, "invalid escape '\\''"),
        Invalid(#""\U0041""#, at: 1, "invalid escape '\\U'"),
        Invalid(#""\u12""#, at: 1, "invalid \\u escape: expected four hex digits"),
        Invalid(#""\uZZZZ""#, at: 1, "invalid \\u escape: expected four hex digits"),
        Invalid(#""\ud800""#, at: 1, "lone surrogate \\uD800"),
        Invalid(#""\udc00""#, at: 1, "lone surrogate \\uDC00"),
        Invalid(#""x\uDE00\uD83D""#, at: 2, "lone surrogate \\uDE00"),
        Invalid(#""\ud800\u0041""#, at: 1, "lone surrogate \\uD800"),
        Invalid(#""\ud800x""#, at: 1, "lone surrogate \\uD800"),
        Invalid(#""\ud800\ud800""#, at: 1, "lone surrogate \\uD800"),
        Invalid(#""\ud800\u12""#, at: 7, "expected four hex digits"),
        Invalid("\"a\tb\"", at: 2, "unescaped control character byte 0x09"),
        Invalid("\"a\nb\"", at: 2, "unescaped control character byte 0x0A"),
        Invalid("\"\\n\u{1F}\"", at: 3, "unescaped control character byte 0x1F"),
        Invalid("C3 28", bytes: [0x22, 0xC3, 0x28, 0x22], at: 1, "invalid UTF-8 (byte 0xC3)"),
        Invalid("FF", bytes: [0x22, 0x61, 0xFF, 0x22], at: 2, "invalid UTF-8 (byte 0xFF)"),
        Invalid("overlong slash", bytes: [0x22, 0xC0, 0xAF, 0x22], at: 1, "invalid UTF-8"),
        Invalid("encoded surrogate", bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], at: 1, "invalid UTF-8"),
        Invalid("above U+10FFFF", bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], at: 1, "invalid UTF-8"),
        Invalid("truncated euro", bytes: [0x22, 0xE2, 0x82, 0x22], at: 1, "invalid UTF-8"),
        Invalid("stray continuation", bytes: [0x22, 0x80, 0x22], at: 1, "invalid UTF-8"),
        Invalid("C3 28 after escape", bytes: [0x22, 0x5C, 0x6E, 0xC3, 0x28, 0x22], at: 3, "invalid UTF-8"),
        Invalid("invalid key", bytes: [0x7B, 0x22, 0xC3, 0x22, 0x3A, 0x31, 0x7D], at: 2, "invalid UTF-8"),
        // Objects.
        Invalid(#"{"inputs":[1],"inputs":[2]}"#, at: 14, #"duplicate key "inputs""#),
        Invalid(#"{"a":1,"\u0061":2}"#, at: 7, #"duplicate key "a""#),
        Invalid(#"{"q\"":1,"q\"":{}}"#, at: 9, #"duplicate key "q\"""#),
        Invalid(#"[{"x":{"y":1,"y":2}}]"#, at: 13, #"duplicate key "y""#),
        // Swift compares keys by canonical equivalence, so a dictionary cannot hold both spellings of "é".
        Invalid(#"{"\u00e9":1,"e\u0301":2}"#, at: 12, "duplicate key"),
        // Depth.
        Invalid(String(repeating: "[", count: 100_000), at: 128, "nest deeper than 128 levels"),
        Invalid(String(repeating: #"{"a":"#, count: 100_000), at: 640, "nest deeper than 128 levels"),
        Invalid(String(repeating: "[", count: 129) + String(repeating: "]", count: 129), at: 128, "nest deeper than 128 levels"),
    ]

    @Test("invalid documents are refused at the right byte", arguments: invalidDocuments)
    func refusesInvalid(_ invalid: Invalid) {
        do {
            let value = try JSONValueParser.parse(invalid.bytes)
            Issue.record("parsed as \(value)")
        } catch {
            #expect(error.offset == invalid.offset, "\(error)")
            #expect(error.message.contains(invalid.message), "\(error)")
        }
    }

    @Test("the depth limit counts arrays and objects and is the caller's to set")
    func depthLimit() throws {
        let nested = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSONValueParser.parse(nested.utf8) }
        let mixed = String(repeating: #"{"a":["#, count: 64) + String(repeating: "]}", count: 64)
        #expect(throws: Never.self) { try JSONValueParser.parse(mixed.utf8) }
        #expect(throws: JSONParseError.self) { try JSONValueParser.parse(mixed.utf8, maxDepth: 127) }
        #expect(try JSONValueParser.parse("1".utf8, maxDepth: 0) == .integer(1))
        #expect(throws: JSONParseError.self) { try JSONValueParser.parse("[]".utf8, maxDepth: 0) }
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: Never.self) { try JSONValueParser.parse(deep.utf8, maxDepth: 1000) }
    }

    @Test("the error reads as offset and message")
    func errorDescription() {
        let error = JSONParseError(offset: 17, message: "expected ',' or ']'")
        #expect(error.description == "at byte 17: expected ',' or ']'")
        #expect(JSONParseError(offset: 0, message: "x").description == "at byte 0: x")
    }

    // MARK: Inputs

    @Test("every kind of byte collection gives the same value")
    func collections() throws {
        let text = #"{"name": "caf\u00e9 😀", "data": [1, -0.5, 18446744073709551615], "ok": true}"#
        let expected = try JSONValueParser.parse(Array(text.utf8))
        let bytes = Array(text.utf8)
        #expect(try JSONValueParser.parse(text.utf8) == expected)
        #expect(try JSONValueParser.parse(Substring(text).utf8) == expected)
        #expect(try JSONValueParser.parse(Data(bytes)) == expected)
        #expect(try JSONValueParser.parse(ArraySlice(bytes)) == expected)
        #expect(try JSONValueParser.parse(([0x20] + bytes)[1...]) == expected)
        #expect(try JSONValueParser.parse(bytes.lazy.map { $0 }) == expected)
        #expect(try JSONValue(parsing: ContiguousArray(bytes)) == expected)
        let fromRawBuffer = bytes.withUnsafeBytes { buffer in Result { () throws(JSONParseError) in try JSONValueParser.parse(buffer) } }
        #expect(try fromRawBuffer.get() == expected)
        #expect(throws: JSONParseError(offset: 0, message: "expected a value, found end of input")) {
            try JSONValueParser.parse(UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    @Test("errors from a copied, non-contiguous collection keep their offsets")
    func nonContiguousErrors() {
        do {
            _ = try JSONValueParser.parse(Array("[1, 2}".utf8).lazy.map { $0 })
            Issue.record("parsed")
        } catch {
            #expect(error == JSONParseError(offset: 5, message: "expected ',' or ']', found '}'"))
        }
    }

    // MARK: Round trips and Foundation

    @Test("documents written by JSONWriter parse back identically")
    func writerRoundTrip() throws {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<300 {
            let value = Self.randomValue(depth: 0, using: &generator)
            var writer = JSONWriter()
            writer.write(value)
            let parsed = try JSONValueParser.parse(writer.bytes)
            #expect(Self.isIdentical(parsed, value), "\(writer.text)")
        }
    }

    static let foundationDocuments = [
        "0", "-1", "1.5", "-0.0", "1e2", "0.1", "9223372036854775807", "-9223372036854775808", "18446744073709551615",
        "2.5e-8", "123456.789e3", #""""#, #""a\"b\\c\/\b\f\n\r\t""#, #""\u00e9\uD83D\uDE00""#, "\"é€😀\"", "true", "false", "null",
        "[]", "{}", "[1, [2, [3, [4]]]]", #"{"a": {"b": {"c": [null, true, 1.25]}}}"#,
        #"{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1.0, 2.5, -3, 4e-3]}]}"#,
        " [ \"spaces\" ,\t\"tab\" ,\r\n \"\\u0000\" ] ",
    ]

    @Test("valid documents match Foundation's JSONSerialization", arguments: foundationDocuments)
    func matchesFoundation(_ text: String) throws {
        let reference = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        let parsed = try JSONValueParser.parse(text.utf8)
        #expect(Self.matches(parsed, reference), "\(parsed) vs \(reference)")
    }
}

// MARK: - Helpers

extension JSONValueParserTests {
    /// Structural equality that also tells `-0.0` from `0.0`.
    static func isIdentical(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.double(let left), .double(let right)): return left.bitPattern == right.bitPattern
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { isIdentical($0, $1) }
        case (.object(let left), .object(let right)):
            return left.count == right.count && left.allSatisfy { key, value in right[key].map { isIdentical(value, $0) } ?? false }
        default: return lhs == rhs
        }
    }

    /// Whether a value has the shape and contents of what `JSONSerialization` produced.
    static func matches(_ value: JSONValue, _ reference: Any) -> Bool {
        let booleanType = type(of: NSNumber(value: true))
        let number = reference as? NSNumber
        let isBoolean = number.map { type(of: $0) == booleanType } ?? false
        switch value {
        case .null: return reference is NSNull
        case .bool(let flag): return isBoolean && number?.boolValue == flag
        case .integer(let integer): return !isBoolean && number?.int64Value == integer
        case .unsignedInteger(let integer): return !isBoolean && number?.uint64Value == integer
        case .double(let double): return !isBoolean && number?.doubleValue == double
        case .string(let text): return reference as? String == text
        case .array(let elements):
            guard let array = reference as? [Any], array.count == elements.count else { return false }
            return zip(elements, array).allSatisfy { matches($0, $1) }
        case .object(let members):
            guard let object = reference as? [String: Any], object.count == members.count else { return false }
            return members.allSatisfy { key, member in object[key].map { matches(member, $0) } ?? false }
        }
    }

    /// A number with a fraction or an exponent, of up to 20 significant digits.
    static func randomDecimal(using generator: inout SplitMix64) -> String {
        let digitCount = Int.random(in: 1...20, using: &generator)
        var digits = String(Int.random(in: 1...9, using: &generator))
        for _ in 1..<digitCount { digits += String(Int.random(in: 0...9, using: &generator)) }
        let point = Int.random(in: 0...digitCount, using: &generator)
        var text = Bool.random(using: &generator) ? "-" : ""
        if point == 0 {
            text += "0." + String(repeating: "0", count: Int.random(in: 0...5, using: &generator)) + digits
        } else if point == digitCount {
            text += digits
        } else {
            text += digits.prefix(point) + "." + digits.dropFirst(point)
        }
        if point == digitCount || Bool.random(using: &generator) {
            let exponent = Bool.random(using: &generator) ? Int.random(in: -25...25, using: &generator) : Int.random(in: -330...310, using: &generator)
            text += ["e", "E"].randomElement(using: &generator)! + (exponent >= 0 && Bool.random(using: &generator) ? "+" : "") + String(exponent)
        }
        return text
    }

    static let stringPieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{2028}", "e\u{301}", "key"]

    static func randomString(using generator: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...6, using: &generator)).map { _ in stringPieces.randomElement(using: &generator)! }.joined()
    }

    static func randomValue(depth: Int, using generator: inout SplitMix64) -> JSONValue {
        let kinds = depth >= 4 ? 7 : 9
        switch Int.random(in: 0..<kinds, using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2:
            // 62 at most: -(1 << 63) would overflow.
            let bits = Int64.random(in: 0...62, using: &generator)
            return .integer(Int64.random(in: -(1 << bits)...(1 << bits), using: &generator))
        case 3: return .unsignedInteger(UInt64.random(in: (UInt64(Int64.max) + 1)...UInt64.max, using: &generator))
        case 4:
            var double: Double
            repeat {
                double = Double(bitPattern: generator.next())
            } while !double.isFinite
            return .double(double)
        case 5:
            let choices: [Double] = [0, -0.0, 1, -1, 0.1, 1e22, 1e23, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 2.5, 100, 1e-7]
            return .double(choices.randomElement(using: &generator)!)
        case 6: return .string(randomString(using: &generator))
        case 7:
            let count = Int.random(in: 0...5, using: &generator)
            return .array((0..<count).map { _ in randomValue(depth: depth + 1, using: &generator) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &generator) {
                members[randomString(using: &generator)] = randomValue(depth: depth + 1, using: &generator)
            }
            return .object(members)
        }
    }
}
