import ModelHostCore

extension Manifest {
    /// Checks what a request declares about its tensors against the declared inputs: every
    /// tensor declared, once, with its datatype and a shape that fits, and every required input
    /// present. No data is needed.
    ///
    /// - Parameter headers: The request's tensors' names, datatypes and shapes, in request order.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/validation`` naming the input and
    ///   the rule it breaks, with its ``ModelHostError/validationFailure``: the rule
    ///   ``ModelHostError/ValidationFailure/Rule/duplicate``, ``ModelHostError/ValidationFailure/Rule/unknownInput``
    ///   (input ``ModelHostError/ValidationFailure/undeclaredInput``), ``ModelHostError/ValidationFailure/Rule/datatype``,
    ///   ``ModelHostError/ValidationFailure/Rule/shape`` or ``ModelHostError/ValidationFailure/Rule/missing``.
    public func checkInputs(_ headers: [TensorHeader]) throws(ModelHostError) {
        var seen: Set<String> = []
        for header in headers {
            guard seen.insert(header.name).inserted else {
                // Its first occurrence passed the check below, so the name is a declared one.
                throw ModelHostError(
                    .validation, "input \"\(header.name)\": given more than once",
                    validationFailure: .init(input: header.name, rule: .duplicate)
                )
            }
            guard let spec = input(named: header.name) else {
                let declared = inputs.map(\.name).joined(separator: ", ")
                throw ModelHostError(
                    .validation, "input \"\(header.name)\": not an input of model \"\(name)\" (inputs: \(declared))",
                    validationFailure: .init(input: ModelHostError.ValidationFailure.undeclaredInput, rule: .unknownInput)
                )
            }
            guard header.datatype == spec.datatype else {
                throw ModelHostError(
                    .validation, "input \"\(header.name)\": datatype must be \(spec.datatype.rawValue), got \(header.datatype.rawValue)",
                    validationFailure: .init(input: spec.name, rule: .datatype)
                )
            }
            guard spec.accepts(shape: header.shape) else {
                throw ModelHostError(
                    .validation, "input \"\(header.name)\": shape must fit \(spec.shape) (-1 is any size), got \(header.shape)",
                    validationFailure: .init(input: spec.name, rule: .shape)
                )
            }
        }
        for spec in inputs where spec.isRequired && !seen.contains(spec.name) {
            throw ModelHostError(.validation, "input \"\(spec.name)\": required but missing", validationFailure: .init(input: spec.name, rule: .missing))
        }
    }

    /// Checks request tensors against the declared inputs: every tensor declared, with its
    /// datatype and a shape that fits, and every required input present.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/validation`` naming the input and
    ///   the rule it breaks, as ``checkInputs(_:)`` does.
    public func checkInputs(_ tensors: [Tensor]) throws(ModelHostError) {
        try checkInputs(tensors.map(\.header))
    }
}
