import ModelHostCore

extension Manifest {
    /// Checks request tensors against the declared inputs: every tensor declared, with its
    /// datatype and a shape that fits, and every required input present.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/validation`` naming the input and
    ///   the rule it breaks.
    public func checkInputs(_ tensors: [Tensor]) throws(ModelHostError) {
        var seen: Set<String> = []
        for tensor in tensors {
            guard seen.insert(tensor.name).inserted else {
                throw ModelHostError(.validation, "input \"\(tensor.name)\": given more than once")
            }
            guard let spec = input(named: tensor.name) else {
                let declared = inputs.map(\.name).joined(separator: ", ")
                throw ModelHostError(.validation, "input \"\(tensor.name)\": not an input of model \"\(name)\" (inputs: \(declared))")
            }
            guard tensor.datatype == spec.datatype else {
                throw ModelHostError(.validation, "input \"\(tensor.name)\": datatype must be \(spec.datatype.rawValue), got \(tensor.datatype.rawValue)")
            }
            guard spec.accepts(shape: tensor.shape) else {
                throw ModelHostError(.validation, "input \"\(tensor.name)\": shape must fit \(spec.shape) (-1 is any size), got \(tensor.shape)")
            }
        }
        for spec in inputs where spec.isRequired && !tensors.contains(where: { $0.name == spec.name }) {
            throw ModelHostError(.validation, "input \"\(spec.name)\": required but missing")
        }
    }
}
