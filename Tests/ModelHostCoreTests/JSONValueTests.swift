import Foundation
import ModelHostCore
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test(
        "decoding keeps each kind of value",
        arguments: [
            ("null", JSONValue.null),
            ("true", .bool(true)),
            ("false", .bool(false)),
            ("0", .integer(0)),
            ("-17", .integer(-17)),
            ("9223372036854775807", .integer(.max)),
            ("-9223372036854775808", .integer(.min)),
            ("9223372036854775808", .unsignedInteger(1 << 63)),
            ("18446744073709551615", .unsignedInteger(.max)),
            ("1.5", .double(1.5)),
            ("-0.25", .double(-0.25)),
            ("18446744073709551616", .double(18_446_744_073_709_551_616)),
            (#""text""#, .string("text")),
            (#""\u00e9\n""#, .string("é\n")),
            (#""1""#, .string("1")),
            (#""true""#, .string("true")),
            ("[]", .array([])),
            (#"[1, "a", null, [true]]"#, .array([.integer(1), .string("a"), .null, .array([.bool(true)])])),
            ("{}", .object([:])),
            (#"{"b": {"c": 1}, "a": [2.5]}"#, .object(["b": .object(["c": .integer(1)]), "a": .array([.double(2.5)])])),
        ]
    )
    func decodes(_ text: String, _ expected: JSONValue) throws {
        #expect(try jsonValue(text) == expected)
    }

    @Test("Int64.max and UInt64.max survive decoding and writing exactly")
    func exactIntegers() throws {
        let value = try jsonValue("[9223372036854775807, 18446744073709551615, -9223372036854775808]")
        #expect(value == .array([.integer(.max), .unsignedInteger(.max), .integer(.min)]))
        #expect(value.jsonText == "[9223372036854775807,18446744073709551615,-9223372036854775808]")
    }

    @Test("booleans are not numbers and numbers are not booleans")
    func boolsAndNumbersStayApart() throws {
        #expect(try jsonValue("1") == .integer(1))
        #expect(try jsonValue("0") == .integer(0))
        #expect(try jsonValue("true") == .bool(true))
    }

    @Test("encoding and decoding round-trips")
    func codableRoundTrip() throws {
        let value = JSONValue.object([
            "big": .unsignedInteger(.max),
            "small": .integer(.min),
            "pi": .double(3.25),
            "list": .array([.null, .bool(false), .string("s\"q")]),
            "nested": .object(["k": .object([:])]),
        ])
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }

    @Test("jsonText parses back to the same value")
    func jsonTextRoundTrip() throws {
        let text = #"{"z": [1, -2, 3.5, "x\ty", null, true], "a": {"m": 18446744073709551615}}"#
        let value = try jsonValue(text)
        #expect(try jsonValue(value.jsonText) == value)
        #expect(value.jsonText == #"{"a":{"m":18446744073709551615},"z":[1,-2,3.5,"x\ty",null,true]}"#)
    }

    @Test(
        "kindDescription names the JSON type",
        arguments: [
            (JSONValue.null, "null"), (.bool(true), "a boolean"), (.integer(1), "a number"), (.unsignedInteger(1), "a number"),
            (.double(1), "a number"), (.string(""), "a string"), (.array([]), "an array"), (.object([:]), "an object"),
        ]
    )
    func kindDescription(_ value: JSONValue, _ kind: String) {
        #expect(value.kindDescription == kind)
    }

    @Test("doubleValue is the number for numbers and nil otherwise")
    func doubleValue() {
        #expect(JSONValue.integer(-3).doubleValue == -3)
        #expect(JSONValue.unsignedInteger(.max).doubleValue == Double(UInt64.max))
        #expect(JSONValue.double(0.5).doubleValue == 0.5)
        #expect(JSONValue.string("1").doubleValue == nil)
        #expect(JSONValue.bool(true).doubleValue == nil)
        #expect(JSONValue.null.doubleValue == nil)
    }

    @Test("invalid JSON does not decode")
    func invalid() {
        #expect(throws: DecodingError.self) { try jsonValue("[1,") }
        #expect(throws: DecodingError.self) { try jsonValue("nope") }
    }
}
