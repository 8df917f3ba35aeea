import ModelHostCore
import Testing

@Suite("TensorHeader")
struct TensorHeaderTests {
    @Test("a tensor's header is its name, datatype and shape")
    func fromTensor() throws {
        let tensor = try Tensor(name: "x", datatype: .int16, shape: [2, 1], data: [1, 0, 2, 0])
        #expect(tensor.header == TensorHeader(name: "x", datatype: .int16, shape: [2, 1]))
    }

    @Test("the element count is the product of the dimensions", arguments: [([], 1), ([3], 3), ([2, 0, 5], 0), ([4, 5, 6], 120)])
    func elementCount(_ shape: [Int], _ count: Int) throws {
        #expect(try TensorHeader(name: "x", datatype: .fp32, shape: shape).elementCount() == count)
    }

    @Test("negative and overflowing shapes are refused", arguments: [
        ([2, -1], "shape [2, -1] has a negative dimension"),
        ([Int.max, 2], "has too many elements"),
    ])
    func badShapes(_ shape: [Int], _ message: String) {
        let error = #expect(throws: TensorLayoutError.self) { try TensorHeader(name: "x", datatype: .fp32, shape: shape).elementCount() }
        #expect(error?.tensor == "x")
        #expect(error?.message.contains(message) == true)
    }

    @Test("fixed-size data must have exactly the size the shape needs; BYTES any size")
    func byteCount() throws {
        _ = try TensorHeader(name: "x", datatype: .fp64, shape: [2, 3], data: 48)
        let error = #expect(throws: TensorLayoutError.self) { try TensorHeader(name: "x", datatype: .fp32, shape: [4], data: 8) }
        #expect(error?.message == "shape [4] of FP32 needs 16 bytes, got 8")
        let huge = #expect(throws: TensorLayoutError.self) { try TensorHeader(name: "x", datatype: .int64, shape: [1 << 61, 8], data: 0) }
        #expect(huge?.message.contains("too many") == true)
        _ = try TensorHeader(name: "t", datatype: .bytes, shape: [3], data: 5)
        // The same check, with the same message, as making the tensor.
        let made = #expect(throws: TensorLayoutError.self) { try Tensor(name: "x", datatype: .fp32, shape: [4], data: [0, 0, 0, 0, 0, 0, 0, 0]) }
        #expect(made == error)
    }
}

extension TensorHeader {
    /// Checks a byte count, as a call the tests can read.
    fileprivate init(name: String, datatype: Datatype, shape: [Int], data byteCount: Int) throws(TensorLayoutError) {
        self.init(name: name, datatype: datatype, shape: shape)
        try checkByteCount(byteCount)
    }
}
