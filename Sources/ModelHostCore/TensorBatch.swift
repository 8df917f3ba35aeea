/// Joins the tensors of several requests along their first dimension into one batch for a single
/// plugin call, and splits the call's outputs back into each request's rows.
///
/// A request is a list of tensors. Requests join when each gives the same tensor names (in any
/// order), and each name has the same datatype and the same dimensions after the first in every
/// request; within a request every tensor has the same first dimension, the request's *rows*.
/// The joined tensor of a name holds the requests' data one after the other, so its first
/// dimension is the sum of their rows. Splitting is the inverse: every output's first dimension
/// must be the total of the rows, and each request gets its own rows of each output.
///
/// Both directions copy each byte once, into storage reserved at its final size, and skip the
/// layout checks of ``Tensor/init(name:datatype:shape:data:)``: joining or slicing well-formed
/// tensors on row boundaries gives well-formed tensors. A single request is neither copied nor
/// sliced. A request of zero rows is allowed: it adds nothing to the batch and gets outputs of
/// zero rows.
///
/// ```swift
/// let (inputs, rows) = try TensorBatch.join([first.inputs, second.inputs])
/// let outputs = try plugin.infer(inputs)
/// let perRequest = try TensorBatch.split(outputs, rows: rows)  // [first's outputs, second's]
/// ```
public enum TensorBatch {
    /// Checks that requests of these headers join, and gives the joined headers, without any data.
    ///
    /// The same checks as ``join(_:)``, in the same order and with the same errors, so a batch can
    /// be refused for its declarations before its data is decoded.
    ///
    /// - Parameter requests: Each request's tensor headers.
    /// - Returns: The joined headers, in the first request's order, and each request's rows.
    /// - Throws: ``TensorBatchError`` naming the requests and the tensor that do not join.
    public static func join(headers requests: [[TensorHeader]]) throws(TensorBatchError) -> (headers: [TensorHeader], rows: [Int]) {
        let plan = try Plan(requests)
        let headers = plan.first.indices.map { slot in
            let header = requests[0][slot]
            return TensorHeader(name: header.name, datatype: header.datatype, shape: [plan.totalRows] + header.shape.dropFirst())
        }
        return (headers, plan.rows)
    }

    /// Joins requests' tensors along their first dimension.
    ///
    /// - Parameter requests: Each request's tensors.
    /// - Returns: One tensor per name, in the first request's order, holding every request's data
    ///   in request order; and each request's rows, to give ``split(_:rows:)``.
    /// - Throws: ``TensorBatchError`` when there is no request, when requests give different names,
    ///   datatypes or dimensions after the first, or when a request cannot be batched (a tensor of
    ///   rank 0, no tensors, tensors that disagree on their first dimension).
    public static func join(_ requests: [[Tensor]]) throws(TensorBatchError) -> (tensors: [Tensor], rows: [Int]) {
        let plan = try Plan(requests.map { $0.map(\.header) })
        if requests.count == 1 { return (requests[0], plan.rows) }
        var tensors: [Tensor] = []
        tensors.reserveCapacity(plan.first.count)
        for slot in plan.first.indices {
            let first = requests[0][slot]
            var byteCount = 0
            for (request, positions) in zip(requests, plan.positions) {
                byteCount += request[positions[slot]].data.count
            }
            var data: [UInt8] = []
            data.reserveCapacity(byteCount)
            for (request, positions) in zip(requests, plan.positions) {
                data.append(contentsOf: request[positions[slot]].data)
            }
            tensors.append(Tensor(name: first.name, datatype: first.datatype, shape: [plan.totalRows] + first.shape.dropFirst(), joinedData: data))
        }
        return (tensors, plan.rows)
    }

    /// Splits a batch's outputs into each request's rows.
    ///
    /// - Parameters:
    ///   - outputs: The tensors the batch produced; each one's first dimension must be the sum
    ///     of `rows`.
    ///   - rows: Each request's rows, as ``join(_:)`` returned them.
    /// - Returns: For each request, in order, its rows of every output, in the outputs' order.
    /// - Throws: ``TensorBatchError`` with ``TensorBatchError/Code/rowsDiffer`` naming an output
    ///   whose first dimension is not the batch's rows, or ``TensorBatchError/Code/unbatchable``
    ///   for an output of rank 0; ``TensorBatchError/Code/empty`` when `rows` is empty.
    public static func split(_ outputs: [Tensor], rows: [Int]) throws(TensorBatchError) -> [[Tensor]] {
        guard !rows.isEmpty else {
            throw TensorBatchError(.empty, requests: [], tensor: nil, reason: "no requests to split the outputs between")
        }
        if let negative = rows.firstIndex(where: { $0 < 0 }) {
            throw TensorBatchError(.rowsDiffer, requests: [negative], tensor: nil, reason: "has \(rows[negative]) rows")
        }
        let totalRows = rows.reduce(0, +)
        for output in outputs {
            guard let outputRows = output.shape.first else {
                throw TensorBatchError(.unbatchable, requests: [], tensor: output.name, reason: "is a scalar (shape []), with no first dimension to split along")
            }
            guard outputRows == totalRows else {
                throw TensorBatchError(
                    .rowsDiffer, requests: [], tensor: output.name,
                    reason: "has a first dimension of \(outputRows) for a batch of \(totalRows) \(totalRows == 1 ? "row" : "rows")"
                )
            }
        }
        if rows.count == 1 { return [outputs] }
        var split = [[Tensor]](repeating: [], count: rows.count)
        for index in split.indices { split[index].reserveCapacity(outputs.count) }
        for output in outputs {
            let rowShape = Array(output.shape.dropFirst())
            let rowElements = rowShape.reduce(1, *)
            for (request, slice) in slices(of: output, rows: rows, rowElements: rowElements).enumerated() {
                split[request].append(Tensor(name: output.name, datatype: output.datatype, shape: [rows[request]] + rowShape, joinedData: Array(output.data[slice])))
            }
        }
        return split
    }

    /// Where each request's rows lie in `tensor`'s data.
    private static func slices(of tensor: Tensor, rows: [Int], rowElements: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(rows.count)
        if let size = tensor.datatype.elementSize {
            let rowBytes = rowElements * size
            var start = 0
            for count in rows {
                ranges.append(start..<(start + count * rowBytes))
                start += count * rowBytes
            }
            return ranges
        }
        // BYTES: elements vary in length, so the boundaries are found by walking the length prefixes.
        tensor.data.withUnsafeBytes { data in
            var offset = 0
            for count in rows {
                let start = offset
                for _ in 0..<(count * rowElements) {
                    offset += 4 + Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                }
                ranges.append(start..<offset)
            }
        }
        return ranges
    }

    /// How requests' tensors line up: for each request, the position of each of the first
    /// request's tensors; and each request's rows.
    private struct Plan {
        /// The first request's headers, the order of the batch.
        let first: [TensorHeader]
        /// For each request, `positions[request][slot]` is where the first request's tensor
        /// `slot` is in that request.
        let positions: [[Int]]
        /// Each request's first dimension.
        let rows: [Int]
        /// The sum of `rows`.
        let totalRows: Int

        init(_ requests: [[TensorHeader]]) throws(TensorBatchError) {
            guard let first = requests.first else {
                throw TensorBatchError(.empty, requests: [], tensor: nil, reason: "no requests to join")
            }
            var slots: [String: Int] = [:]
            slots.reserveCapacity(first.count)
            for (slot, header) in first.enumerated() where slots.updateValue(slot, forKey: header.name) != nil {
                throw TensorBatchError(.namesDiffer, requests: [0], tensor: header.name, reason: "is given more than once")
            }
            var positions: [[Int]] = []
            positions.reserveCapacity(requests.count)
            var rows: [Int] = []
            rows.reserveCapacity(requests.count)
            var totalRows = 0
            for (index, request) in requests.enumerated() {
                let order = try Self.order(of: request, index: index, slots: slots, first: first)
                let requestRows = try Self.rows(of: request, index: index)
                if index > 0 {
                    for (slot, position) in order.enumerated() {
                        try Self.check(request[position], against: first[slot], index: index)
                    }
                }
                positions.append(order)
                rows.append(requestRows)
                totalRows += requestRows
            }
            self.first = first
            self.positions = positions
            self.rows = rows
            self.totalRows = totalRows
        }

        /// Where each of the first request's names is in `request`.
        private static func order(of request: [TensorHeader], index: Int, slots: [String: Int], first: [TensorHeader]) throws(TensorBatchError) -> [Int] {
            var order = [Int](repeating: -1, count: first.count)
            for (position, header) in request.enumerated() {
                guard let slot = slots[header.name] else {
                    throw TensorBatchError(.namesDiffer, requests: [0, index], tensor: header.name, reason: "is in the second and not in the first")
                }
                guard order[slot] < 0 else {
                    throw TensorBatchError(.namesDiffer, requests: [index], tensor: header.name, reason: "is given more than once")
                }
                order[slot] = position
            }
            if let missing = order.firstIndex(of: -1) {
                throw TensorBatchError(.namesDiffer, requests: [0, index], tensor: first[missing].name, reason: "is in the first and not in the second")
            }
            return order
        }

        /// The request's rows: the first dimension all its tensors share.
        private static func rows(of request: [TensorHeader], index: Int) throws(TensorBatchError) -> Int {
            guard let leader = request.first else {
                throw TensorBatchError(.unbatchable, requests: [index], tensor: nil, reason: "has no tensors, so no rows")
            }
            for header in request where header.shape.isEmpty {
                throw TensorBatchError(.unbatchable, requests: [index], tensor: header.name, reason: "is a scalar (shape []), with no first dimension to join along")
            }
            let rows = leader.shape[0]
            guard rows >= 0 else {
                throw TensorBatchError(.unbatchable, requests: [index], tensor: leader.name, reason: "has a negative first dimension (\(rows))")
            }
            for header in request where header.shape[0] != rows {
                throw TensorBatchError(
                    .unbatchable, requests: [index], tensor: header.name,
                    reason: "has a first dimension of \(header.shape[0]) where \"\(leader.name)\" has \(rows); a request's tensors must agree on it"
                )
            }
            return rows
        }

        /// Checks that a tensor of a later request joins the first request's.
        private static func check(_ header: TensorHeader, against first: TensorHeader, index: Int) throws(TensorBatchError) {
            guard header.datatype == first.datatype else {
                throw TensorBatchError(
                    .datatypesDiffer, requests: [0, index], tensor: header.name,
                    reason: "is \(first.datatype.rawValue) in the first and \(header.datatype.rawValue) in the second"
                )
            }
            guard header.shape.count == first.shape.count, header.shape.dropFirst().elementsEqual(first.shape.dropFirst()) else {
                throw TensorBatchError(
                    .shapesDiffer, requests: [0, index], tensor: header.name,
                    reason: "has shape \(first.shape) in the first and \(header.shape) in the second; only the first dimension may differ"
                )
            }
        }
    }
}

/// Requests whose tensors cannot be joined into one batch, or outputs that cannot be split
/// back into the requests' rows.
///
/// The error names the requests (by their index in the batch) and the tensor concerned, and says
/// what is wrong in ``reason``, so a caller can phrase it in its own terms — the HTTP edge says
/// `instances[0] and instances[3]: input "x" has shape ...`.
public struct TensorBatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable category of failure. New codes may be added; match on the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable machine-readable spelling.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// There is nothing to join, or no requests to split between.
        public static let empty = Code("empty")
        /// Two requests do not give the same tensor names, or one gives a name twice.
        public static let namesDiffer = Code("names_differ")
        /// Two requests give a tensor of the same name with different datatypes.
        public static let datatypesDiffer = Code("datatypes_differ")
        /// Two requests give a tensor of the same name whose dimensions after the first differ.
        public static let shapesDiffer = Code("shapes_differ")
        /// A request or output has no first dimension to batch along: a tensor of rank 0, no
        /// tensors at all, or tensors that disagree on their first dimension.
        public static let unbatchable = Code("unbatchable")
        /// An output's first dimension is not the batch's total rows.
        public static let rowsDiffer = Code("rows_differ")

        public var description: String { rawValue }
    }

    /// The category of the failure.
    public var code: Code
    /// The requests concerned, by index in the batch: the two that disagree (the first named
    /// first), the one that cannot be batched, or none when the failure is about the batch or an
    /// output.
    public var requests: [Int]
    /// The tensor concerned, if one is.
    public var tensor: String?
    /// What is wrong, as a phrase that follows the tensor's name (`has shape [1, 2] in the first
    /// and [1, 3] in the second; ...`), or stands alone when no tensor is named.
    public var reason: String

    /// Creates an error.
    public init(_ code: Code, requests: [Int], tensor: String?, reason: String) {
        self.code = code
        self.requests = requests
        self.tensor = tensor
        self.reason = reason
    }

    /// The error in the batch's terms: `requests 0 and 3: tensor "x" has shape ...`.
    public var description: String {
        let subject = tensor.map { "tensor \"\($0)\" \(reason)" } ?? reason
        switch requests.count {
        case 0: return subject
        case 1: return "request \(requests[0]): \(subject)"
        default: return "requests \(requests.map(String.init).joined(separator: " and ")): \(subject)"
        }
    }
}
