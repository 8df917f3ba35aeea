import ModelHostCore

/// What a request's tensors must share with others to join them in one batched call: each
/// input's name and datatype, and its shape past the first dimension.
public struct BatchKey: Hashable, Sendable {
    private struct Input: Hashable, Sendable {
        var name: String
        var datatype: Datatype
        var trailingShape: ArraySlice<Int>
    }

    private let inputs: [Input]

    /// The key of `tensors` and their rows (the first dimension every input shares), or `nil`
    /// when they cannot be batched: a scalar input, or inputs whose first dimensions differ.
    public static func of(_ tensors: [Tensor]) -> (key: BatchKey, rows: Int)? {
        guard let rows = tensors.first?.shape.first else { return nil }
        var inputs: [Input] = []
        inputs.reserveCapacity(tensors.count)
        for tensor in tensors {
            guard tensor.shape.first == rows else { return nil }
            inputs.append(Input(name: tensor.name, datatype: tensor.datatype, trailingShape: tensor.shape.dropFirst()))
        }
        return (BatchKey(inputs: inputs), rows)
    }
}
