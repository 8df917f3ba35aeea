import Foundation
import ModelHostCore
import Testing

@Suite("JSONWriter")
struct JSONWriterTests {
    static func written(_ body: (inout JSONWriter) -> Void) -> String {
        var writer = JSONWriter()
        body(&writer)
        return writer.text
    }

    @Test(
        "strings are escaped per RFC 8259",
        arguments: [
            ("plain", #""plain""#),
            ("", #""""#),
            ("a\"b", #""a\"b""#),
            ("a\\b", #""a\\b""#),
            ("a\nb", #""a\nb""#),
            ("a\rb", #""a\rb""#),
            ("a\tb", #""a\tb""#),
            ("\u{0}", #""\u0000""#),
            ("\u{8}\u{C}", #""\u0008\u000c""#),
            ("\u{1F}", #""\u001f""#),
            ("\u{7F}", "\"\u{7F}\""),
            ("/", #""/""#),
            ("é€🙂", "\"é€🙂\""),
        ]
    )
    func escaping(_ value: String, _ expected: String) throws {
        let text = Self.written { $0.string(value) }
        #expect(text == expected)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
        #expect(parsed == value)
    }

    @Test("every control character comes back intact through a JSON parser")
    func allControlCharacters() throws {
        let value = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let text = Self.written { $0.string(value) }
        #expect(!text.utf8.contains { $0 < 0x20 })
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed) as? String
        #expect(parsed == value)
    }

    @Test("string(utf8:) writes the same as string(_:)")
    func stringFromBytes() {
        let value = "q\"uo\nte"
        let fromBytes = Self.written { writer in Array(value.utf8).withUnsafeBytes { writer.string(utf8: $0) } }
        #expect(fromBytes == Self.written { $0.string(value) })
    }

    @Test("key writes a quoted name and a colon")
    func key() {
        #expect(Self.written { $0.key("na\"me") } == #""na\"me":"#)
    }

    @Test("integers are written exactly")
    func integers() {
        #expect(Self.written { $0.number(Int64.max) } == "9223372036854775807")
        #expect(Self.written { $0.number(Int64.min) } == "-9223372036854775808")
        #expect(Self.written { $0.number(UInt64.max) } == "18446744073709551615")
        #expect(Self.written { $0.number(UInt8(0)) } == "0")
    }

    @Test("floating-point numbers use the shortest round-tripping form")
    func floats() {
        #expect(Self.written { $0.number(2.5) } == "2.5")
        #expect(Self.written { $0.number(0.1) } == "0.1")
        #expect(Self.written { $0.number(Float(0.1)) } == "0.1")
        #expect(Self.written { $0.number(1.0) } == "1.0")
        #expect(Self.written { $0.number(-0.0) } == "-0.0")
    }

    @Test("large and small floating-point numbers are valid JSON", arguments: [1e300, Double.leastNonzeroMagnitude, -1.5e-7, 1e21, Double(Float.greatestFiniteMagnitude)])
    func exponents(_ value: Double) throws {
        let text = Self.written { $0.number(value) }
        // Foundation's JSONSerialization accepts it as JSON; JSONDecoder reads it back exactly.
        #expect(try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) is [Any])
        #expect(try JSONDecoder().decode([Double].self, from: Data("[\(text)]".utf8)) == [value])
    }

    @Test("non-finite numbers are refused and nothing is written", arguments: [Double.nan, .infinity, -.infinity])
    func nonFinite(_ value: Double) {
        var writer = JSONWriter()
        writer.raw("[")
        let wroteDouble = writer.number(value)
        let wroteFloat = writer.number(Float(value))
        #expect(!wroteDouble)
        #expect(!wroteFloat)
        #expect(writer.text == "[")
    }

    @Test("finite numbers report success")
    func finiteReportsTrue() {
        var writer = JSONWriter()
        let wrote = writer.number(1.5)
        #expect(wrote)
        #expect(writer.text == "1.5")
    }

    @Test("booleans and raw literals")
    func literals() {
        #expect(Self.written { $0.bool(true); $0.raw(","); $0.bool(false); $0.raw(",null") } == "true,false,null")
    }

    @Test("write(_:) sorts object keys, at every depth")
    func sortedKeys() {
        let value = JSONValue.object([
            "zeta": .integer(1),
            "alpha": .object(["b": .bool(true), "a": .null, "B": .string("x")]),
            "mid": .array([.object(["y": .integer(2), "x": .integer(1)])]),
        ])
        #expect(Self.written { $0.write(value) } == #"{"alpha":{"B":"x","a":null,"b":true},"mid":[{"x":1,"y":2}],"zeta":1}"#)
    }

    @Test(
        "write(_:) writes each kind of value",
        arguments: [
            (JSONValue.null, "null"),
            (.bool(false), "false"),
            (.integer(-42), "-42"),
            (.integer(.max), "9223372036854775807"),
            (.unsignedInteger(.max), "18446744073709551615"),
            (.double(0.5), "0.5"),
            (.double(.nan), "null"),
            (.double(.infinity), "null"),
            (.string("a\"b"), #""a\"b""#),
            (.array([]), "[]"),
            (.array([.integer(1), .string("x"), .null]), #"[1,"x",null]"#),
            (.object([:]), "{}"),
            (.object(["k\n": .array([])]), #"{"k\n":[]}"#),
        ]
    )
    func writesValues(_ value: JSONValue, _ expected: String) {
        #expect(Self.written { $0.write(value) } == expected)
        #expect(value.jsonText == expected)
    }

    @Test("bytes holds exactly what text shows")
    func bytesAndText() {
        var writer = JSONWriter(capacity: 1)
        writer.string("ü")
        #expect(writer.bytes == [0x22, 0xC3, 0xBC, 0x22])
        #expect(writer.text == "\"ü\"")
    }
}

@Suite("JSON writer containers")
struct JSONWriterContainerTests {
    @Test func containersPlaceTheirOwnCommas() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string("echo")
        writer.key("shape")
        writer.beginArray()
        writer.number(2)
        writer.number(3)
        writer.endArray()
        writer.key("empty")
        writer.beginArray()
        writer.endArray()
        writer.key("nested")
        writer.beginArray()
        writer.beginObject()
        writer.key("ok")
        writer.bool(true)
        writer.endObject()
        writer.beginObject()
        writer.endObject()
        writer.write(.object(["b": .integer(1), "a": .null]))
        writer.endArray()
        writer.endObject()
        #expect(writer.text == #"{"name":"echo","shape":[2,3],"empty":[],"nested":[{"ok":true},{},{"a":null,"b":1}]}"#)
    }

    @Test func aNonFiniteNumberWritesNothingAndLeavesTheSeparatorsRight() {
        var writer = JSONWriter()
        writer.beginArray()
        writer.number(1.5)
        let wroteNaN = writer.number(Double.nan)
        #expect(!wroteNaN)
        writer.number(2.5)
        writer.endArray()
        #expect(writer.text == "[1.5,2.5]")
    }
}
