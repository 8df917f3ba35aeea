import ModelHostCore
import Testing

@Suite("Tensor layout")
struct TensorTests {
    /// The ABI layout of BYTES elements: each a 4-byte little-endian length, then its bytes.
    static func bytesLayout(_ elements: [[UInt8]]) -> [UInt8] {
        elements.flatMap { element -> [UInt8] in
            let length = UInt32(element.count)
            return [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 24)] + element
        }
    }

    @Test("fixed-size datatypes need exactly count × size bytes", arguments: Datatype.allCases.filter { $0 != .bytes })
    func fixedSizeLayout(_ datatype: Datatype) throws {
        let size = try #require(datatype.elementSize)
        let shape = [2, 3]
        let tensor = try Tensor(name: "t", datatype: datatype, shape: shape, data: [UInt8](repeating: 0, count: 6 * size))
        #expect(tensor.data.count == 6 * size)
        #expect(tensor.elementCount == 6)
        #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "t", datatype: datatype, shape: shape, data: [UInt8](repeating: 0, count: 6 * size - 1))
        }
        #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "t", datatype: datatype, shape: shape, data: [UInt8](repeating: 0, count: 6 * size + 1))
        }
    }

    @Test("FP32 [2, 2] takes 16 bytes")
    func fp32Exact() throws {
        let tensor = try Tensor(name: "input0", datatype: .fp32, shape: [2, 2], data: [UInt8](repeating: 0, count: 16))
        #expect(tensor.name == "input0")
        #expect(tensor.datatype == .fp32)
        #expect(tensor.shape == [2, 2])
        #expect(tensor.elementCount == 4)
    }

    @Test("FP32 [2, 2] refuses any other byte count, naming the tensor", arguments: [0, 15, 17, 32])
    func fp32WrongSize(_ count: Int) {
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "input0", datatype: .fp32, shape: [2, 2], data: [UInt8](repeating: 0, count: count))
        }
        #expect(error?.tensor == "input0")
        #expect(error?.message.contains("16") == true)
        #expect(error?.message.contains("\(count)") == true)
        #expect(error?.description.hasPrefix("tensor \"input0\": ") == true)
    }

    @Test("a negative dimension is refused", arguments: [[-1], [2, -1], [-3, 0]])
    func negativeDimension(_ shape: [Int]) {
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "x", datatype: .uint8, shape: shape, data: [])
        }
        #expect(error?.tensor == "x")
        #expect(error?.message.contains("negative") == true)
    }

    @Test("a shape whose element count overflows is refused")
    func overflowingShape() {
        #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "x", datatype: .uint8, shape: [Int.max, 2], data: [])
        }
        #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "x", datatype: .fp64, shape: [Int.max / 4], data: [])
        }
    }

    @Test("BOOL bytes must be 0 or 1")
    func boolValues() throws {
        let tensor = try Tensor(name: "flags", datatype: .bool, shape: [3], data: [0, 1, 1])
        #expect(tensor.data == [0, 1, 1])
        for bad: UInt8 in [2, 255] {
            let error = #expect(throws: TensorLayoutError.self) {
                try Tensor(name: "flags", datatype: .bool, shape: [3], data: [0, bad, 1])
            }
            #expect(error?.tensor == "flags")
            #expect(error?.message.contains("\(bad)") == true)
        }
    }

    @Test("a shape of [] is a scalar: one element")
    func scalar() throws {
        let tensor = try Tensor(name: "s", datatype: .int64, shape: [], data: [UInt8](repeating: 0, count: 8))
        #expect(tensor.elementCount == 1)
        #expect(throws: TensorLayoutError.self) { try Tensor(name: "s", datatype: .int64, shape: [], data: []) }
    }

    @Test("zero-size shapes hold no data", arguments: [[0], [2, 0], [0, 5, 3]])
    func zeroSize(_ shape: [Int]) throws {
        for datatype in Datatype.allCases {
            let tensor = try Tensor(name: "empty", datatype: datatype, shape: shape, data: [])
            #expect(tensor.elementCount == 0)
            #expect(tensor.byteElements.isEmpty)
            #expect(throws: TensorLayoutError.self) {
                try Tensor(name: "empty", datatype: datatype, shape: shape, data: [0, 0, 0, 0])
            }
        }
    }

    @Test("BYTES data is length-prefixed elements")
    func bytesLayoutAccepted() throws {
        let data = Self.bytesLayout([Array("hi".utf8), [], [0, 255, 7]])
        #expect(data == [2, 0, 0, 0, 104, 105, 0, 0, 0, 0, 3, 0, 0, 0, 0, 255, 7])
        let tensor = try Tensor(name: "text", datatype: .bytes, shape: [3], data: data)
        #expect(tensor.byteElements.map(Array.init) == [Array("hi".utf8), [], [0, 255, 7]])
    }

    @Test("a BYTES length prefix is little-endian")
    func bytesLengthEndianness() throws {
        let element = [UInt8](repeating: 0x41, count: 300)
        let data: [UInt8] = [0x2C, 0x01, 0, 0] + element
        let tensor = try Tensor(name: "long", datatype: .bytes, shape: [1], data: data)
        #expect(tensor.byteElements.map(Array.init) == [element])
    }

    struct BadBytes: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var shape: [Int]
        var data: [UInt8]
        var messageFragment: String
    }

    static let badBytes: [BadBytes] = [
        BadBytes(testDescription: "no data for one element", shape: [1], data: [], messageFragment: "no length prefix"),
        BadBytes(testDescription: "truncated prefix", shape: [1], data: [1, 0, 0], messageFragment: "no length prefix"),
        BadBytes(testDescription: "second prefix missing", shape: [2], data: [1, 0, 0, 0, 65], messageFragment: "element 1 has no length prefix"),
        BadBytes(testDescription: "element past the end", shape: [1], data: [5, 0, 0, 0, 65, 66], messageFragment: "runs past the end"),
        BadBytes(testDescription: "huge length", shape: [1], data: [0xFF, 0xFF, 0xFF, 0xFF, 65], messageFragment: "runs past the end"),
        BadBytes(testDescription: "trailing bytes", shape: [1], data: [1, 0, 0, 0, 65, 66], messageFragment: "1 bytes follow"),
        BadBytes(testDescription: "data for a zero-size shape", shape: [0], data: [0, 0, 0, 0], messageFragment: "4 bytes follow"),
        BadBytes(testDescription: "more elements than the shape", shape: [1], data: [0, 0, 0, 0, 0, 0, 0, 0], messageFragment: "follow"),
    ]

    @Test("malformed BYTES data is refused", arguments: badBytes)
    func bytesLayoutRefused(_ bad: BadBytes) {
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "text", datatype: .bytes, shape: bad.shape, data: bad.data)
        }
        #expect(error?.tensor == "text")
        #expect(error?.message.contains(bad.messageFragment) == true, "\(error?.message ?? "no error")")
    }

    @Test(
        "byteElements round-trips through init(byteElements:)",
        arguments: [
            [[UInt8]](),
            [[]],
            [[0]],
            [Array("hello".utf8), Array("wörld".utf8)],
            [[UInt8](repeating: 0xAB, count: 70_000), [], [1, 2, 3]],
        ]
    )
    func byteElementsRoundTrip(_ elements: [[UInt8]]) throws {
        let tensor = try Tensor(name: "b", shape: [elements.count], byteElements: elements)
        #expect(tensor.datatype == .bytes)
        #expect(tensor.data == Self.bytesLayout(elements))
        #expect(tensor.byteElements.map(Array.init) == elements)
    }

    @Test("init(byteElements:) checks the element count against the shape")
    func byteElementsShapeMismatch() {
        let error = #expect(throws: TensorLayoutError.self) {
            try Tensor(name: "b", shape: [3], byteElements: [[1], [2]])
        }
        #expect(error?.tensor == "b")
    }

    @Test("init(strings:) stores UTF-8")
    func strings() throws {
        let tensor = try Tensor(name: "q", shape: [1, 3], strings: ["a", "", "€"])
        #expect(tensor.shape == [1, 3])
        #expect(tensor.data == [1, 0, 0, 0, 0x61, 0, 0, 0, 0, 3, 0, 0, 0, 0xE2, 0x82, 0xAC])
        #expect(tensor.byteElements.map { String(decoding: $0, as: UTF8.self) } == ["a", "", "€"])
        #expect(throws: TensorLayoutError.self) { try Tensor(name: "q", shape: [2], strings: ["a"]) }
    }

    @Test("byteElements is empty for other datatypes")
    func byteElementsOfNumbers() throws {
        let tensor = try Tensor(name: "n", datatype: .uint8, shape: [4], data: [4, 0, 0, 0])
        #expect(tensor.byteElements.isEmpty)
    }

    @Test("tensors with the same name, type, shape and data are equal")
    func equality() throws {
        let one = try Tensor(name: "a", datatype: .uint8, shape: [2], data: [1, 2])
        #expect(one == (try Tensor(name: "a", datatype: .uint8, shape: [2], data: [1, 2])))
        #expect(one != (try Tensor(name: "b", datatype: .uint8, shape: [2], data: [1, 2])))
        #expect(one != (try Tensor(name: "a", datatype: .int8, shape: [2], data: [1, 2])))
        #expect(one != (try Tensor(name: "a", datatype: .uint8, shape: [1, 2], data: [1, 2])))
        #expect(one != (try Tensor(name: "a", datatype: .uint8, shape: [2], data: [1, 3])))
    }
}
