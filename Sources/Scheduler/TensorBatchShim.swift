import ModelHostCore

// TEMPORARY: replaced by ModelHostCore's TensorBatch when the v1 branch lands.
struct TensorBatch {
    var tensors: [Tensor]
    var rows: [Int]

    static func join(_ requests: [[Tensor]]) throws -> TensorBatch {
        let rows = requests.map { $0.first?.shape.first ?? 0 }
        var tensors: [Tensor] = []
        for (index, first) in requests[0].enumerated() {
            var data: [UInt8] = []
            for request in requests { data += request[index].data }
            var shape = first.shape
            shape[0] = rows.reduce(0, +)
            tensors.append(try Tensor(name: first.name, datatype: first.datatype, shape: shape, data: data))
        }
        return TensorBatch(tensors: tensors, rows: rows)
    }

    func split(_ outputs: [Tensor]) throws -> [[Tensor]] {
        var result = Array(repeating: [Tensor](), count: rows.count)
        for output in outputs {
            guard let size = output.datatype.elementSize else { throw TensorLayoutError(tensor: output.name, message: "bytes") }
            let perRow = output.shape.dropFirst().reduce(1, *) * size
            var offset = 0
            for (index, count) in rows.enumerated() {
                var shape = output.shape
                shape[0] = count
                result[index].append(try Tensor(name: output.name, datatype: output.datatype, shape: shape, data: Array(output.data[offset..<offset + perRow * count])))
                offset += perRow * count
            }
        }
        return result
    }
}
