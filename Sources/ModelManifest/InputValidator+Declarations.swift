import ModelHostCore

extension InputValidator {
    /// Checks what a request declares about its tensors, before any data is decoded: the names,
    /// datatypes, shapes and required inputs of ``Manifest/checkInputs(_:)``, then
    /// the batch limit (`limits.maxBatch`) on every input whose first dimension is variable.
    ///
    /// ``validate(_:)`` makes the same checks on decoded tensors, so a caller that runs this first
    /// refuses a request for its shape without paying for its data, and gets the same refusal.
    ///
    /// - Parameter headers: The request's tensors' names, datatypes and shapes, in request order.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/validation`` naming the input
    ///   and the rule it breaks, with its ``ModelHostError/validationFailure`` (the rules of
    ///   ``Manifest/checkInputs(_:)``, and ``ModelHostError/ValidationFailure/Rule/maxBatch``).
    ///   ``ModelHostError/modelVersion`` is left for the caller to fill.
    public func checkDeclarations(_ headers: [TensorHeader]) throws(ModelHostError) {
        try manifest.checkInputs(headers)
        guard hasBatchedInput else { return }
        let limit = manifest.limits.maxBatch
        for header in headers {
            guard manifest.input(named: header.name)?.shape.first == -1, let batch = header.shape.first else { continue }
            guard batch <= limit else {
                throw ModelHostError(
                    .validation, "input \"\(header.name)\": batch of \(batch) is over the limit of \(limit)",
                    validationFailure: .init(input: header.name, rule: .maxBatch)
                )
            }
        }
    }
}
