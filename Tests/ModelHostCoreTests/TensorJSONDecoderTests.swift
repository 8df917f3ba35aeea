import Foundation
import ModelHostCore
import Testing

/// Decodes `text` as the data of a tensor `x`.
private func decode(_ text: String, _ datatype: Datatype, _ shape: [Int]) throws -> Tensor {
    try TensorJSONDecoder.decode(Array(text.utf8), as: TensorHeader(name: "x", datatype: datatype, shape: shape))
}

/// The tree path's result for the same text: `Tensor(name:datatype:shape:json:)` over the strict parser.
private func treeDecode(_ text: String, _ datatype: Datatype, _ shape: [Int]) throws -> Tensor {
    try Tensor(name: "x", datatype: datatype, shape: shape, json: JSONValueParser.parse(Array(text.utf8)))
}

@Suite("TensorJSONDecoder")
struct TensorJSONDecoderTests {
    struct Sample: Sendable, CustomTestStringConvertible {
        var datatype: Datatype
        var text: String
        var shape: [Int]
        var testDescription: String { "\(datatype.rawValue) \(shape) \(text)" }
    }

    static let samples: [Sample] = [
        Sample(datatype: .bool, text: "[true, false, true, false]", shape: [4]),
        Sample(datatype: .bool, text: "[[true, false], [false, true]]", shape: [2, 2]),
        Sample(datatype: .uint8, text: "[0, 255, 7.0, -0]", shape: [4]),
        Sample(datatype: .uint16, text: "[[0, 65535], [1e2, 2]]", shape: [2, 2]),
        Sample(datatype: .uint32, text: "[4294967295, 0]", shape: [2]),
        Sample(datatype: .uint64, text: "[18446744073709551615, 9223372036854775808, 0]", shape: [3]),
        Sample(datatype: .int8, text: "[-128, 127]", shape: [2]),
        Sample(datatype: .int16, text: "[[-32768], [32767]]", shape: [2, 1]),
        Sample(datatype: .int32, text: "[3.0, -2e2, -0, 2147483647]", shape: [4]),
        Sample(datatype: .int64, text: "[-9223372036854775808, 9223372036854775807]", shape: [2]),
        Sample(datatype: .fp32, text: "[1, 2.5, 0.1, -0, -0.0, 3.4028234663852886e38, 0.30000001192092896, 1e-50]", shape: [8]),
        Sample(datatype: .fp32, text: "[[1.5, 2], [3, 4e-3]]", shape: [2, 2]),
        Sample(datatype: .fp64, text: "[1, -7, 0.1, 9007199254740993, 18446744073709551615, 5e-324, 1.7976931348623157e308]", shape: [7]),
        Sample(datatype: .bytes, text: #"["héllo", "", "a\"b\\c\n\u00e9\ud83d\ude00", "\u0000"]"#, shape: [4]),
        Sample(datatype: .bytes, text: #"[["a", "b"], ["c", "d"]]"#, shape: [2, 2]),
        // A bare element for a one-element tensor.
        Sample(datatype: .fp64, text: "2.5", shape: [1]),
        Sample(datatype: .int32, text: "7", shape: []),
        Sample(datatype: .bytes, text: #""hi""#, shape: [1, 1]),
        Sample(datatype: .bool, text: "true", shape: [1]),
        // Empty data for a zero-size tensor, and whitespace everywhere.
        Sample(datatype: .fp32, text: "[]", shape: [2, 0]),
        Sample(datatype: .int8, text: " [ [ ] , [ ] ] ", shape: [2, 0]),
        Sample(datatype: .uint8, text: "\t[\n1 ,\r2 ]\n", shape: [2]),
    ]

    @Test("every datatype, flat, nested and bare, gives the bytes the tree path gives", arguments: samples)
    func matchesTheTreePath(_ sample: Sample) throws {
        let decoded = try decode(sample.text, sample.datatype, sample.shape)
        #expect(decoded == (try treeDecode(sample.text, sample.datatype, sample.shape)))
        #expect(decoded.header == TensorHeader(name: "x", datatype: sample.datatype, shape: sample.shape))
    }

    @Test("values are stored in the ABI layout")
    func layout() throws {
        #expect(try decode("[1, -2]", .int16, [2]).data == littleEndianBytes([Int16(1), -2]))
        #expect(try decode("[[1, 2], [3, 4]]", .uint32, [2, 2]).data == littleEndianBytes([UInt32(1), 2, 3, 4]))
        #expect(try decode("[0.1]", .fp32, [1]).data == littleEndianBytes([Float(0.1).bitPattern]))
        #expect(try decode("[0.1]", .fp64, [1]).data == littleEndianBytes([Double(0.1).bitPattern]))
        #expect(try decode("[-0]", .fp32, [1]).data == littleEndianBytes([Float(-0.0).bitPattern]))
        #expect(try decode("[-0]", .int32, [1]).data == [0, 0, 0, 0])
        #expect(try decode("[true, false]", .bool, [2]).data == [1, 0])
        #expect(try decode(#"["ab", "\u00e9"]"#, .bytes, [2]).data == [2, 0, 0, 0, 0x61, 0x62, 2, 0, 0, 0, 0xC3, 0xA9])
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var datatype: Datatype
        var text: String
        var shape: [Int]
        var message: String
        var testDescription: String { "\(datatype.rawValue) \(shape) \(text)" }
    }

    static let refusals: [Refusal] = [
        // Elements that do not fit the datatype, named by their row-major index.
        Refusal(datatype: .int8, text: "[1, 300]", shape: [2], message: "element 1: 300 is not an integer in range for INT8"),
        Refusal(datatype: .int8, text: "[-129]", shape: [1], message: "element 0: -129 is not an integer in range for INT8"),
        Refusal(datatype: .int32, text: "[1.5]", shape: [1], message: "element 0: 1.5 is not an integer in range for INT32"),
        Refusal(datatype: .int32, text: "[[1, 2], [3, 2147483648]]", shape: [2, 2], message: "element 3: 2147483648 is not an integer in range for INT32"),
        Refusal(datatype: .int64, text: "[9223372036854775808]", shape: [1], message: "not an integer in range for INT64"),
        Refusal(datatype: .int64, text: "[1e19]", shape: [1], message: "not an integer in range for INT64"),
        Refusal(datatype: .uint8, text: "[-1]", shape: [1], message: "element 0: -1 is not an integer in range for UINT8"),
        Refusal(datatype: .uint64, text: "[18446744073709551616]", shape: [1], message: "not an integer in range for UINT64"),
        Refusal(datatype: .uint64, text: "[-0.5]", shape: [1], message: "not an integer in range for UINT64"),
        Refusal(datatype: .int32, text: #"["1"]"#, shape: [1], message: "element 0 is a string, INT32 needs an integer"),
        Refusal(datatype: .int32, text: "[true]", shape: [1], message: "element 0 is a boolean, INT32 needs an integer"),
        Refusal(datatype: .int32, text: "[1, null]", shape: [2], message: "element 1 is null, INT32 needs an integer"),
        Refusal(datatype: .bool, text: "[true, 1]", shape: [2], message: "element 1 is a number, BOOL needs a boolean"),
        Refusal(datatype: .bool, text: #"["true"]"#, shape: [1], message: "element 0 is a string, BOOL needs a boolean"),
        Refusal(datatype: .bytes, text: "[5]", shape: [1], message: "element 0 is a number, BYTES needs a string"),
        Refusal(datatype: .bytes, text: #"["a", false]"#, shape: [2], message: "element 1 is a boolean, BYTES needs a string"),
        Refusal(datatype: .fp32, text: "[1e39]", shape: [1], message: "element 0: 1e+39 is out of range for FP32"),
        Refusal(datatype: .fp32, text: "[-1e39]", shape: [1], message: "out of range for FP32"),
        Refusal(datatype: .fp32, text: #"["1.0"]"#, shape: [1], message: "element 0 is a string, FP32 needs a number"),
        Refusal(datatype: .fp64, text: "[false]", shape: [1], message: "element 0 is a boolean, FP64 needs a number"),
        Refusal(datatype: .fp64, text: "null", shape: [1], message: "element 0 is null, FP64 needs a number"),
        // An object where an array or an element is expected.
        Refusal(datatype: .fp32, text: #"{"data": [1]}"#, shape: [1], message: "element 0 is an object, FP32 needs a number"),
        Refusal(datatype: .bytes, text: "[{}]", shape: [1], message: "element 0 is an object, BYTES needs a string"),
        Refusal(datatype: .int8, text: #"[1, {"a": 2}]"#, shape: [2], message: "element 1 is an object, INT8 needs an integer"),
        // Layouts.
        Refusal(datatype: .fp32, text: "[1, 2, 3]", shape: [2, 2], message: "shape [2, 2] needs 4 elements, data has 3"),
        Refusal(datatype: .fp32, text: "[]", shape: [1], message: "shape [1] needs 1 elements, data has 0"),
        Refusal(datatype: .fp32, text: "[1]", shape: [-1], message: "shape [-1] needs too many elements, data has 1"),
        Refusal(datatype: .fp32, text: "5", shape: [2], message: "shape [2] needs 2 elements, data has 1"),
        Refusal(datatype: .int32, text: "[[1, 2], [3]]", shape: [2, 2], message: "nested data does not have shape [2, 2]"),
        Refusal(datatype: .int32, text: "[[1, 2, 3, 4]]", shape: [4], message: "nested data does not have shape [4]"),
        Refusal(datatype: .int32, text: "[[1, 2], [3, 4]]", shape: [4], message: "nested data does not have shape [4]"),
        Refusal(datatype: .int32, text: "[1, [2]]", shape: [2], message: "nested data does not have shape [2]"),
        // A wrong size is refused for its size, whatever the elements hold.
        Refusal(datatype: .fp32, text: #"["a", "b", "c"]"#, shape: [2], message: "shape [2] needs 2 elements, data has 3"),
    ]

    @Test("refusals name the tensor and say what the tree path says", arguments: refusals)
    func refused(_ refusal: Refusal) {
        let error = #expect(throws: TensorLayoutError.self) { try decode(refusal.text, refusal.datatype, refusal.shape) }
        #expect(error?.tensor == "x")
        #expect(error?.message.contains(refusal.message) == true, "\(error?.message ?? "no error")")
        let tree = #expect(throws: TensorLayoutError.self) { try treeDecode(refusal.text, refusal.datatype, refusal.shape) }
        #expect(tree == error)
    }

    @Test("text that is not JSON is refused as such, with its offset", arguments: [
        ("[1, 2,]", 6, "expected a value, found ']'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        ("[01]", 1, "leading zeros"),
        ("[1e400]", 1, "number 1e400 is out of range for a double"),
        (#"["a\x"]"#, 3, "invalid escape"),
        ("[1] [2]", 4, "unexpected '['"),
        (#"[{"k": 1, "k": 2}]"#, 10, "duplicate key"),
        ("[NaN]", 1, "expected a value, found 'N'"),
    ])
    func notJSON(_ text: String, _ offset: Int, _ message: String) {
        let error = #expect(throws: TensorLayoutError.self) { try decode(text, .fp32, [1]) }
        #expect(error?.message.hasPrefix("data is not valid JSON: at byte \(offset): ") == true, "\(error?.message ?? "no error")")
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
    }

    @Test("strings that are not valid UTF-8 are refused, decoded or not")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"["ok", ""#.utf8) + [0xC3, 0x28] + Array(#""]"#.utf8)
        let error = #expect(throws: TensorLayoutError.self) { try TensorJSONDecoder.decode(bytes, as: TensorHeader(name: "t", datatype: .bytes, shape: [2])) }
        #expect(error?.message == "data is not valid JSON: at byte 8: invalid UTF-8 (byte 0xC3)")
        #expect(throws: TensorLayoutError.self) { try TensorJSONDecoder.decode(bytes, as: TensorHeader(name: "t", datatype: .fp32, shape: [2])) }
    }

    @Test("data measured inside a larger document decodes from its range")
    func measuredInDocument() throws {
        let document = Array(#"{"name": "x", "data": [[1, 2], [3, 4]], "more": true}"#.utf8)
        let header = TensorHeader(name: "x", datatype: .int8, shape: [2, 2])
        let tensor = try JSONScanner.withScanner(over: document) { scanner in
            try scanner.beginObject()
            while let key = try scanner.nextKey(), key != "data" {}
            let data = try scanner.skipValue()
            try scanner.finish()
            return try document.withUnsafeBytes { try TensorJSONDecoder.decode(data, in: $0, as: header) }
        }
        #expect(tensor.data == [1, 2, 3, 4])
        #expect(try TensorJSONDecoder.checkLayout(JSONScanner.SkippedValue(range: 0..<0, kind: .array, arrayShape: [4], elementCount: 4, hasNestedArray: false), for: header) == 4)
    }

    @Test("generated numbers decode as the tree path decodes them, for every numeric datatype", arguments: Datatype.allCases.filter(\.isNumeric))
    func generatedNumbers(_ datatype: Datatype) throws {
        var generator = SplitMix64(seed: UInt64(datatype.abiCode))
        for _ in 0..<300 {
            let count = Int.random(in: 1...8, using: &generator)
            let elements = (0..<count).map { _ in Self.randomNumber(using: &generator) }
            let text = "[" + elements.joined(separator: ", ") + "]"
            let tree = Result { try treeDecode(text, datatype, [count]) }
            let bytes = Result { try decode(text, datatype, [count]) }
            switch (tree, bytes) {
            case (.success(let expected), .success(let decoded)):
                #expect(decoded == expected, "\(text)")
            case (.failure(let expected as TensorLayoutError), .failure(let decoded)):
                #expect(decoded as? TensorLayoutError == expected, "\(text)")
            case (.failure(let expected as JSONParseError), .failure(let decoded)):
                // Not JSON at all (`nan`, `1e309`): the parser's refusal, as the decoder words it.
                #expect((decoded as? TensorLayoutError)?.message == "data is not valid JSON: \(expected)", "\(text)")
            default:
                Issue.record("\(text): tree \(tree), bytes \(bytes)")
            }
        }
    }

    /// A number as a client might write it: an integer near a datatype's edge, or a decimal.
    static func randomNumber(using generator: inout SplitMix64) -> String {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0:
            let edges: [Int128] = [0, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2_147_483_647, 2_147_483_648, 4_294_967_295, 4_294_967_296,
                                   9_223_372_036_854_775_807, 9_223_372_036_854_775_808, 18_446_744_073_709_551_615, 18_446_744_073_709_551_616]
            let edge = edges.randomElement(using: &generator)! + Int128(Int.random(in: -1...1, using: &generator))
            return String(Bool.random(using: &generator) ? -edge : edge)
        case 1:
            return String(Int.random(in: -1000...1000, using: &generator)) + [".0", ".5", "e1", "e-1", "E2", ""].randomElement(using: &generator)!
        case 2:
            return "\(Double(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))))"
        default:
            return JSONValueParserTests.randomDecimal(using: &generator)
        }
    }
}
