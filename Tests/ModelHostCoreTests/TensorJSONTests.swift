import Foundation
import ModelHostCore
import Testing

/// Decodes JSON text the way the host decodes request bodies.
func jsonValue(_ text: String) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
}

/// The JSON text `writeJSONData` produces for `tensor`.
func jsonData(of tensor: Tensor, unwrapsSingleElement: Bool = false) throws -> String {
    var writer = JSONWriter()
    try tensor.writeJSONData(to: &writer, unwrapsSingleElement: unwrapsSingleElement)
    return writer.text
}

/// Little-endian bytes of fixed-width values.
func littleEndianBytes<Value: FixedWidthInteger>(_ values: [Value]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
}

@Suite("Tensor JSON")
struct TensorJSONTests {
    @Test("flat and nested data give the same bytes")
    func nestedEqualsFlat() throws {
        let flat = try Tensor(name: "x", datatype: .int32, shape: [2, 3], json: jsonValue("[1, 2, 3, 4, 5, 6]"))
        let nested = try Tensor(name: "x", datatype: .int32, shape: [2, 3], json: jsonValue("[[1, 2, 3], [4, 5, 6]]"))
        #expect(flat.data == littleEndianBytes([Int32(1), 2, 3, 4, 5, 6]))
        #expect(nested == flat)
    }

    @Test("a one-element tensor may be given as the bare element")
    func bareElement() throws {
        let tensor = try Tensor(name: "x", datatype: .fp64, shape: [1], json: jsonValue("2.5"))
        #expect(tensor.data == littleEndianBytes([Double(2.5).bitPattern]))
    }

    @Test("an empty array fills a zero-size tensor")
    func emptyData() throws {
        let tensor = try Tensor(name: "x", datatype: .fp32, shape: [2, 0], json: jsonValue("[]"))
        #expect(tensor.data.isEmpty)
    }

    @Test(
        "the element count must match the shape",
        arguments: [("[1, 2, 3]", [2, 2]), ("[1, 2, 3, 4, 5]", [2, 2]), ("[]", [1]), ("[1]", [-1])]
    )
    func elementCountMismatch(_ text: String, _ shape: [Int]) {
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "input0", datatype: .fp32, shape: shape, json: jsonValue(text))
        }
        #expect(error?.tensor == "input0")
        #expect(error?.message.contains("elements") == true)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var datatype: Datatype
        var json: String
        var messageFragment: String
        var testDescription: String { "\(datatype.rawValue) \(json)" }
    }


    @Test(
        "nested data must have exactly the declared shape",
        arguments: [("[[1, 2], [3]]", [2, 2]), ("[[1, 2, 3, 4]]", [4]), ("[[1, 2], [3, 4]]", [4]), ("[[[1]], [[[2]]]]", [2])]
    )
    func nestedShapeMismatch(_ text: String, _ shape: [Int]) throws {
        let json = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "t", datatype: .int32, shape: shape, json: json)
        }
        #expect(error?.message.contains("nested data does not have shape") == true)
    }
    @Test(
        "values that do not fit the datatype are refused, naming the element",
        arguments: [
            Refusal(datatype: .int8, json: "[1, 300]", messageFragment: "element 1: 300 is not an integer in range for INT8"),
            Refusal(datatype: .int8, json: "[-129]", messageFragment: "not an integer in range"),
            Refusal(datatype: .int16, json: "[32768]", messageFragment: "not an integer in range"),
            Refusal(datatype: .int32, json: "[1.5]", messageFragment: "element 0: 1.5 is not an integer"),
            Refusal(datatype: .int32, json: "[2147483648]", messageFragment: "not an integer in range"),
            Refusal(datatype: .int64, json: "[9223372036854775808]", messageFragment: "not an integer in range"),
            Refusal(datatype: .int64, json: "[1e19]", messageFragment: "not an integer in range"),
            Refusal(datatype: .uint8, json: "[-1]", messageFragment: "element 0: -1 is not an integer in range for UINT8"),
            Refusal(datatype: .uint8, json: "[256]", messageFragment: "not an integer in range"),
            Refusal(datatype: .uint16, json: "[65536]", messageFragment: "not an integer in range"),
            Refusal(datatype: .uint32, json: "[4294967296]", messageFragment: "not an integer in range"),
            Refusal(datatype: .uint64, json: "[18446744073709551616]", messageFragment: "not an integer in range"),
            Refusal(datatype: .uint64, json: "[-1]", messageFragment: "not an integer in range"),
            Refusal(datatype: .int32, json: "[\"1\"]", messageFragment: "element 0 is a string, INT32 needs an integer"),
            Refusal(datatype: .int32, json: "[true]", messageFragment: "element 0 is a boolean, INT32 needs an integer"),
            Refusal(datatype: .int32, json: "[null]", messageFragment: "element 0 is null, INT32 needs an integer"),
            Refusal(datatype: .bool, json: "[true, 1]", messageFragment: "element 1 is a number, BOOL needs a boolean"),
            Refusal(datatype: .bool, json: "[\"true\"]", messageFragment: "BOOL needs a boolean"),
            Refusal(datatype: .bytes, json: "[5]", messageFragment: "element 0 is a number, BYTES needs a string"),
            Refusal(datatype: .bytes, json: "[{}]", messageFragment: "element 0 is an object, BYTES needs a string"),
            Refusal(datatype: .fp32, json: "[1e39]", messageFragment: "out of range for FP32"),
            Refusal(datatype: .fp32, json: "[-1e39]", messageFragment: "out of range for FP32"),
            Refusal(datatype: .fp32, json: "[\"1.0\"]", messageFragment: "FP32 needs a number"),
            Refusal(datatype: .fp64, json: "[false]", messageFragment: "FP64 needs a number"),
        ]
    )
    func refused(_ refusal: Refusal) {
        let count = (try? jsonValue(refusal.json)).map { value -> Int in
            if case .array(let elements) = value { return elements.count }
            return 1
        } ?? 0
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "v", datatype: refusal.datatype, shape: [count], json: jsonValue(refusal.json))
        }
        #expect(error?.tensor == "v")
        #expect(error?.message.contains(refusal.messageFragment) == true, "\(error?.message ?? "no error")")
    }

    @Test("integers at the edges of each range are stored exactly")
    func integerRanges() throws {
        func tensor(_ datatype: Datatype, _ json: String) throws -> [UInt8] {
            try Tensor(name: "v", datatype: datatype, shape: [2], json: jsonValue(json)).data
        }
        #expect(try tensor(.int8, "[-128, 127]") == littleEndianBytes([Int8.min, Int8.max]))
        #expect(try tensor(.uint8, "[0, 255]") == [0, 255])
        #expect(try tensor(.int16, "[-32768, 32767]") == littleEndianBytes([Int16.min, Int16.max]))
        #expect(try tensor(.uint16, "[0, 65535]") == littleEndianBytes([UInt16.min, UInt16.max]))
        #expect(try tensor(.int32, "[-2147483648, 2147483647]") == littleEndianBytes([Int32.min, Int32.max]))
        #expect(try tensor(.uint32, "[0, 4294967295]") == littleEndianBytes([UInt32.min, UInt32.max]))
        #expect(try tensor(.int64, "[-9223372036854775808, 9223372036854775807]") == littleEndianBytes([Int64.min, Int64.max]))
        #expect(try tensor(.uint64, "[0, 18446744073709551615]") == littleEndianBytes([UInt64.min, UInt64.max]))
        #expect(try tensor(.uint64, "[9223372036854775808, 18446744073709551614]") == littleEndianBytes([UInt64(1) << 63, UInt64.max - 1]))
    }

    @Test("whole numbers written with a fraction are accepted for integer datatypes")
    func wholeDoubles() throws {
        let tensor = try Tensor(name: "v", datatype: .int32, shape: [2], json: jsonValue("[3.0, -2e2]"))
        #expect(tensor.data == littleEndianBytes([Int32(3), -200]))
    }

    @Test("FP64 accepts integers and keeps doubles exact")
    func fp64() throws {
        let tensor = try Tensor(name: "v", datatype: .fp64, shape: [4], json: jsonValue("[1, -7, 0.1, 9007199254740993]"))
        let expected: [Double] = [1, -7, 0.1, 9_007_199_254_740_992]
        #expect(tensor.data == littleEndianBytes(expected.map(\.bitPattern)))
    }

    @Test("FP32 rounds to single precision")
    func fp32() throws {
        let tensor = try Tensor(name: "v", datatype: .fp32, shape: [3], json: jsonValue("[1, 2.5, 0.1]"))
        #expect(tensor.data == littleEndianBytes([Float(1), 2.5, 0.1].map(\.bitPattern)))
    }

    @Test("BOOL and BYTES from JSON")
    func boolAndBytes() throws {
        let flags = try Tensor(name: "f", datatype: .bool, shape: [3], json: jsonValue("[true, false, true]"))
        #expect(flags.data == [1, 0, 1])
        let text = try Tensor(name: "t", datatype: .bytes, shape: [2], json: jsonValue(#"["héllo", ""]"#))
        #expect(text == (try Tensor(name: "t", shape: [2], strings: ["héllo", ""])))
    }

    struct Output: Sendable, CustomTestStringConvertible {
        var datatype: Datatype
        var json: String
        var written: String
        var testDescription: String { "\(datatype.rawValue) \(json)" }
    }

    @Test(
        "writeJSONData writes each datatype",
        arguments: [
            Output(datatype: .fp32, json: "[1, 2.5]", written: "[1.0,2.5]"),
            Output(datatype: .fp32, json: "[0.1, -0.5]", written: "[0.1,-0.5]"),
            Output(datatype: .fp64, json: "[0.1, 1, -3.25]", written: "[0.1,1.0,-3.25]"),
            Output(datatype: .bool, json: "[true, false]", written: "[true,false]"),
            Output(datatype: .uint8, json: "[0, 255]", written: "[0,255]"),
            Output(datatype: .uint16, json: "[0, 65535]", written: "[0,65535]"),
            Output(datatype: .uint32, json: "[4294967295]", written: "[4294967295]"),
            Output(datatype: .uint64, json: "[18446744073709551615, 1]", written: "[18446744073709551615,1]"),
            Output(datatype: .int8, json: "[-128, 127]", written: "[-128,127]"),
            Output(datatype: .int16, json: "[-32768, 7]", written: "[-32768,7]"),
            Output(datatype: .int32, json: "[-2147483648, 2147483647]", written: "[-2147483648,2147483647]"),
            Output(datatype: .int64, json: "[-9223372036854775808, 9223372036854775807]", written: "[-9223372036854775808,9223372036854775807]"),
            Output(datatype: .bytes, json: #"["a", "", "b c"]"#, written: #"["a","","b c"]"#),
            Output(datatype: .fp32, json: "[]", written: "[]"),
        ]
    )
    func writesEachDatatype(_ output: Output) throws {
        let value = try jsonValue(output.json)
        guard case .array(let elements) = value else { Issue.record("not an array"); return }
        let tensor = try Tensor(name: "o", datatype: output.datatype, shape: [elements.count], json: value)
        #expect(try jsonData(of: tensor) == output.written)
    }

    @Test("writeJSONData keeps the order of a nested shape, flattened")
    func writesFlat() throws {
        let tensor = try Tensor(name: "o", datatype: .int16, shape: [2, 2], json: jsonValue("[[1, 2], [3, 4]]"))
        #expect(try jsonData(of: tensor) == "[1,2,3,4]")
    }

    @Test("unwrapsSingleElement writes a lone element bare, and only a lone element")
    func unwrapsSingleElement() throws {
        let one = try Tensor(name: "o", datatype: .fp32, shape: [1], json: jsonValue("[2.5]"))
        #expect(try jsonData(of: one, unwrapsSingleElement: true) == "2.5")
        #expect(try jsonData(of: one, unwrapsSingleElement: false) == "[2.5]")

        let scalar = try Tensor(name: "o", datatype: .int32, shape: [], json: jsonValue("7"))
        #expect(try jsonData(of: scalar, unwrapsSingleElement: true) == "7")

        let text = try Tensor(name: "o", shape: [1, 1], strings: ["hi"])
        #expect(try jsonData(of: text, unwrapsSingleElement: true) == #""hi""#)

        let flag = try Tensor(name: "o", datatype: .bool, shape: [1], data: [1])
        #expect(try jsonData(of: flag, unwrapsSingleElement: true) == "true")

        let two = try Tensor(name: "o", datatype: .fp32, shape: [2], json: jsonValue("[1, 2]"))
        #expect(try jsonData(of: two, unwrapsSingleElement: true) == "[1.0,2.0]")

        let none = try Tensor(name: "o", datatype: .fp32, shape: [0], data: [])
        #expect(try jsonData(of: none, unwrapsSingleElement: true) == "[]")
    }

    @Test("BYTES output escapes quotes, backslashes, newlines and control characters as valid JSON")
    func bytesEscaping() throws {
        let strings = ["say \"hi\"", "back\\slash", "line\nbreak\r\n", "tab\there", "\u{0}\u{1}\u{1F}", "emoji 🙂 ü", "/</script>"]
        let tensor = try Tensor(name: "o", shape: [strings.count], strings: strings)
        let text = try jsonData(of: tensor)
        #expect(!text.utf8.contains { $0 < 0x20 })
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]
        #expect(parsed == strings)
    }

    @Test("BYTES output is refused when an element is not valid UTF-8", arguments: [[0xFF], [0xC3], [0x61, 0xED, 0xA0, 0x80]] as [[UInt8]])
    func invalidUTF8(_ bad: [UInt8]) throws {
        let tensor = try Tensor(name: "o", shape: [2], byteElements: [Array("ok".utf8), bad])
        let error = #expect(throws: TensorLayoutError.self) { try jsonData(of: tensor) }
        #expect(error?.tensor == "o")
        #expect(error?.message.contains("element 1 is not valid UTF-8") == true)
    }

    @Test("non-finite numbers are refused on output", arguments: [Float.nan, .infinity, -.infinity])
    func nonFiniteFP32(_ value: Float) throws {
        let tensor = try Tensor(name: "o", datatype: .fp32, shape: [2], data: littleEndianBytes([Float(1).bitPattern, value.bitPattern]))
        let error = #expect(throws: TensorLayoutError.self) { try jsonData(of: tensor) }
        #expect(error?.tensor == "o")
        #expect(error?.message.contains("element 1 is not a finite number") == true)
    }

    @Test("non-finite FP64 is refused on output")
    func nonFiniteFP64() throws {
        let tensor = try Tensor(name: "o", datatype: .fp64, shape: [1], data: littleEndianBytes([Double.nan.bitPattern]))
        #expect(throws: TensorLayoutError.self) { try jsonData(of: tensor, unwrapsSingleElement: true) }
    }

    @Test("output parses back to the same tensor", arguments: Datatype.allCases)
    func roundTrip(_ datatype: Datatype) throws {
        let json: String
        switch datatype {
        case .bool: json = "[true,false,true]"
        case .bytes: json = #"["x","y\"z","\u00e9"]"#
        case .fp32, .fp64: json = "[1.5,-0.25,3.0]"
        case .int8, .int16, .int32, .int64: json = "[-5,0,100]"
        default: json = "[5,0,100]"
        }
        let tensor = try Tensor(name: "r", datatype: datatype, shape: [3], json: jsonValue(json))
        let written = try jsonData(of: tensor)
        #expect(try Tensor(name: "r", datatype: datatype, shape: [3], json: jsonValue(written)) == tensor)
    }
}
