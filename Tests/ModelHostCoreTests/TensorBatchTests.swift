import ModelHostCore
import Testing

@Suite("TensorBatch")
struct TensorBatchTests {
    /// A tensor of `datatype` whose rows are `rows` × `rowElements` elements, each byte of the
    /// data a distinct value (BOOL data alternates 0 and 1).
    static func tensor(_ name: String, _ datatype: Datatype, rows: Int, rowShape: [Int] = [], seed: UInt8 = 0) throws -> Tensor {
        let shape = [rows] + rowShape
        let count = shape.reduce(1, *) * (datatype.elementSize ?? 1)
        let data = (0..<count).map { datatype == .bool ? UInt8($0 % 2) : UInt8(truncatingIfNeeded: $0 &+ Int(seed) &* 37) }
        return try Tensor(name: name, datatype: datatype, shape: shape, data: data)
    }

    @Test("fixed-size tensors join in request order and split back into each request's rows", arguments: Datatype.allCases.filter { $0 != .bytes })
    func roundTrip(_ datatype: Datatype) throws {
        let requests = try [1, 3, 2].enumerated().map { index, rows in
            [try Self.tensor("x", datatype, rows: rows, rowShape: [2, 3], seed: UInt8(index)), try Self.tensor("n", .int64, rows: rows, seed: UInt8(index))]
        }
        let (joined, rows) = try TensorBatch.join(requests)
        #expect(rows == [1, 3, 2])
        #expect(joined.map(\.name) == ["x", "n"])
        #expect(joined[0].shape == [6, 2, 3])
        #expect(joined[0].datatype == datatype)
        #expect(joined[0].data == requests.flatMap { $0[0].data })
        #expect(joined[1].shape == [6])
        #expect(joined[1].data == requests.flatMap { $0[1].data })
        #expect(try TensorBatch.split(joined, rows: rows) == requests)
    }

    @Test("BYTES elements of different lengths join and split on their row boundaries")
    func bytesRoundTrip() throws {
        let requests = try [
            [Tensor(name: "text", shape: [1, 2], strings: ["a", ""])],
            [Tensor(name: "text", shape: [2, 2], strings: ["longer text", "é", "x", String(repeating: "y", count: 300)])],
            [Tensor(name: "text", shape: [1, 2], strings: ["", "last"])],
        ]
        let (joined, rows) = try TensorBatch.join(requests)
        #expect(rows == [1, 2, 1])
        #expect(joined == [try Tensor(name: "text", shape: [4, 2], strings: ["a", "", "longer text", "é", "x", String(repeating: "y", count: 300), "", "last"])])
        #expect(try TensorBatch.split(joined, rows: rows) == requests)
    }

    @Test("later requests may give their tensors in any order; the batch takes the first request's")
    func order() throws {
        let first = [try Self.tensor("a", .fp32, rows: 1), try Self.tensor("b", .uint8, rows: 1, seed: 1)]
        let second = [try Self.tensor("b", .uint8, rows: 2, seed: 2), try Self.tensor("a", .fp32, rows: 2, seed: 3)]
        let (joined, rows) = try TensorBatch.join([first, second])
        #expect(joined.map(\.name) == ["a", "b"])
        #expect(joined[0].data == first[0].data + second[1].data)
        #expect(joined[1].data == first[1].data + second[0].data)
        let split = try TensorBatch.split(joined, rows: rows)
        #expect(split[0] == first)
        #expect(split[1] == [second[1], second[0]])
    }

    @Test("one request is its own batch: nothing is copied or cut")
    func singleRequest() throws {
        let request = [try Self.tensor("x", .fp64, rows: 3, rowShape: [2])]
        let (joined, rows) = try TensorBatch.join([request])
        #expect(joined == request)
        #expect(rows == [3])
        #expect(try TensorBatch.split(request, rows: [3]) == [request])
    }

    @Test("a request of zero rows adds nothing and gets outputs of zero rows; a batch of zero rows is allowed")
    func zeroRows() throws {
        let requests = try [2, 0, 1].map { [try Self.tensor("x", .int16, rows: $0, rowShape: [3])] }
        let (joined, rows) = try TensorBatch.join(requests)
        #expect(rows == [2, 0, 1])
        #expect(joined[0].shape == [3, 3])
        let split = try TensorBatch.split(joined, rows: rows)
        #expect(split == requests)
        #expect(split[1][0].shape == [0, 3])
        #expect(split[1][0].data.isEmpty)

        let empty = try [0, 0].map { _ in [try Tensor(name: "s", shape: [0], strings: [])] }
        let (none, noRows) = try TensorBatch.join(empty)
        #expect(none[0].shape == [0])
        #expect(try TensorBatch.split(none, rows: noRows) == empty)
    }

    @Test("headers join as their tensors do, without data")
    func headers() throws {
        let requests = try [1, 4].map { [try Self.tensor("x", .fp32, rows: $0, rowShape: [2]), try Tensor(name: "t", shape: [$0], strings: Array(repeating: "q", count: $0))] }
        let (headers, rows) = try TensorBatch.join(headers: requests.map { $0.map(\.header) })
        #expect(rows == [1, 4])
        #expect(headers == [TensorHeader(name: "x", datatype: .fp32, shape: [5, 2]), TensorHeader(name: "t", datatype: .bytes, shape: [5])])
        #expect(headers == (try TensorBatch.join(requests)).tensors.map(\.header))
    }

    /// Requests that do not join, the code, and the description.
    static let refusals: [([[TensorHeader]], TensorBatchError.Code, String)] = {
        func header(_ name: String, _ shape: [Int], _ datatype: Datatype = .fp32) -> TensorHeader {
            TensorHeader(name: name, datatype: datatype, shape: shape)
        }
        let x = header("x", [1, 2])
        return [
            ([], .empty, "no requests to join"),
            ([[x], [x, header("y", [1])]], .namesDiffer, #"requests 0 and 1: tensor "y" is in the second and not in the first"#),
            ([[x, header("y", [1])], [x], [x]], .namesDiffer, #"requests 0 and 1: tensor "y" is in the first and not in the second"#),
            ([[x], [x], [header("z", [1, 2])]], .namesDiffer, #"requests 0 and 2: tensor "z" is in the second and not in the first"#),
            ([[x, x]], .namesDiffer, #"request 0: tensor "x" is given more than once"#),
            ([[x], [x, x]], .namesDiffer, #"request 1: tensor "x" is given more than once"#),
            ([[x], [x], [x], [header("x", [1, 2], .int32)]], .datatypesDiffer, #"requests 0 and 3: tensor "x" is FP32 in the first and INT32 in the second"#),
            ([[x], [header("x", [2, 3])]], .shapesDiffer, #"requests 0 and 1: tensor "x" has shape [1, 2] in the first and [2, 3] in the second; only the first dimension may differ"#),
            ([[x], [header("x", [1, 2, 1])]], .shapesDiffer, #"requests 0 and 1: tensor "x" has shape [1, 2] in the first and [1, 2, 1] in the second; only the first dimension may differ"#),
            ([[header("s", [])], [header("s", [])]], .unbatchable, #"request 0: tensor "s" is a scalar (shape []), with no first dimension to join along"#),
            ([[x, header("y", [1])], [x, header("y", [2])]], .unbatchable, #"request 1: tensor "y" has a first dimension of 2 where "x" has 1; a request's tensors must agree on it"#),
            ([[], []], .unbatchable, "request 0: has no tensors, so no rows"),
            ([[header("x", [-1])]], .unbatchable, #"request 0: tensor "x" has a negative first dimension (-1)"#),
        ]
    }()

    @Test("requests that do not join are refused, naming the requests and the tensor", arguments: refusals)
    func refusedJoins(_ requests: [[TensorHeader]], _ code: TensorBatchError.Code, _ description: String) throws {
        let error = #expect(throws: TensorBatchError.self) { try TensorBatch.join(headers: requests) }
        #expect(error?.code == code)
        #expect(error?.description == description)
        // The tensors are refused exactly as their headers are.
        let tensors = try requests.map { request in
            try request.map { header in
                try Tensor(name: header.name, datatype: header.datatype, shape: header.shape.map { max($0, 0) }, data: [UInt8](repeating: 0, count: header.shape.map { max($0, 0) }.reduce(1, *) * (header.datatype.elementSize ?? 0)))
            }
        }
        if requests.flatMap({ $0 }).allSatisfy({ $0.shape.allSatisfy { $0 >= 0 } }) {
            let tensorError = #expect(throws: TensorBatchError.self) { try TensorBatch.join(tensors) }
            #expect(tensorError == error)
        }
    }

    @Test("outputs whose first dimension is not the batch's rows are refused, naming the output")
    func refusedSplits() throws {
        let output = try Self.tensor("y", .fp32, rows: 5)
        let short = #expect(throws: TensorBatchError.self) { try TensorBatch.split([output], rows: [2, 2, 2]) }
        #expect(short?.code == .rowsDiffer)
        #expect(short?.tensor == "y")
        #expect(short?.description == #"tensor "y" has a first dimension of 5 for a batch of 6 rows"#)
        // Also when there is one request: its outputs must have its rows.
        #expect(throws: TensorBatchError.self) { try TensorBatch.split([output], rows: [1]) }

        let scalar = try Tensor(name: "total", datatype: .fp32, shape: [], data: [0, 0, 0, 0])
        let unbatched = #expect(throws: TensorBatchError.self) { try TensorBatch.split([output, scalar], rows: [3, 2]) }
        #expect(unbatched?.code == .unbatchable)
        #expect(unbatched?.tensor == "total")

        #expect((#expect(throws: TensorBatchError.self) { try TensorBatch.split([output], rows: []) })?.code == .empty)
        #expect((#expect(throws: TensorBatchError.self) { try TensorBatch.split([output], rows: [6, -1]) })?.code == .rowsDiffer)
    }
}
