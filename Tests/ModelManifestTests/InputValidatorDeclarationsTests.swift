import ModelHostCore
import ModelManifest
import Testing

@Suite("InputValidator.checkDeclarations")
struct InputValidatorDeclarationsTests {
    typealias F = ValidatorFixture

    /// Each example's cases with the validator they are for.
    static let exampleCases: [(String, ValidationCase)] =
        InputValidatorTests.intentClassifierCases.map { ("intent-classifier", $0) }
        + InputValidatorTests.anomalyDetectorCases.map { ("anomaly-detector", $0) }
        + InputValidatorTests.echoCases.map { ("echo", $0) }

    @Test("a declaration refused on headers is refused by validate with the same error; one that passes fails validate only on element rules",
          arguments: exampleCases)
    func agreesWithValidate(_ model: String, _ testCase: ValidationCase) throws {
        let validator = try F.example(model)
        let tensors = try testCase.tensors()
        let declared = Result { () throws(ModelHostError) in try validator.checkDeclarations(tensors.map(\.header)) }
        let validated = Result { () throws(ModelHostError) in _ = try validator.validate(tensors) }
        switch (declared, validated) {
        case (.failure(let declaredError), .failure(let validatedError)):
            #expect(declaredError == validatedError)
            #expect(declaredError.code == .validation)
        case (.failure(let declaredError), .success):
            Issue.record("refused on headers only: \(declaredError)")
        case (.success, .failure(let validatedError)):
            for declarationRule in ["batch of", "datatype must be", "shape must fit", "not an input", "required but missing", "more than once"] {
                #expect(!validatedError.message.contains(declarationRule), "\(validatedError.message)")
            }
        case (.success, .success):
            break
        }
    }

    @Test("every rule on headers, with no data at all", arguments: [
        ([TensorHeader(name: "query", datatype: .bytes, shape: [32])], nil),
        ([TensorHeader(name: "query", datatype: .bytes, shape: [33])], "input \"query\": batch of 33 is over the limit of 32"),
        ([TensorHeader(name: "query", datatype: .bytes, shape: [1_000_000_000])], "input \"query\": batch of 1000000000 is over the limit of 32"),
        ([TensorHeader(name: "query", datatype: .fp32, shape: [1])], "input \"query\": datatype must be BYTES, got FP32"),
        ([TensorHeader(name: "query", datatype: .bytes, shape: [1, 1])], "input \"query\": shape must fit [-1] (-1 is any size), got [1, 1]"),
        ([TensorHeader(name: "query", datatype: .bytes, shape: [1]), TensorHeader(name: "query", datatype: .bytes, shape: [1])],
         "input \"query\": given more than once"),
        ([TensorHeader(name: "query", datatype: .bytes, shape: [1]), TensorHeader(name: "other", datatype: .bytes, shape: [1])],
         "input \"other\": not an input of model \"intent-classifier\" (inputs: query)"),
        ([], "input \"query\": required but missing"),
    ] as [([TensorHeader], String?)])
    func rules(_ headers: [TensorHeader], _ message: String?) throws {
        let validator = try F.example("intent-classifier")
        if let message {
            let error = #expect(throws: ModelHostError.self) { try validator.checkDeclarations(headers) }
            #expect(error?.code == .validation)
            #expect(error?.message == message)
        } else {
            #expect(throws: Never.self) { try validator.checkDeclarations(headers) }
        }
    }

    @Test("the batch limit applies to a variable first dimension only")
    func batchOnlyForVariableFirstDimension() throws {
        let manifest = try F.manifest(
            inputs: [["name": "a", "datatype": "FP32", "shape": [-1, 2]], ["name": "b", "datatype": "FP32", "shape": [4], "required": false]],
            maxBatch: 2
        )
        let validator = try InputValidator(manifest: manifest)
        #expect(throws: Never.self) {
            try validator.checkDeclarations([TensorHeader(name: "a", datatype: .fp32, shape: [2, 2]), TensorHeader(name: "b", datatype: .fp32, shape: [4])])
        }
        let error = #expect(throws: ModelHostError.self) { try validator.checkDeclarations([TensorHeader(name: "a", datatype: .fp32, shape: [3, 2])]) }
        #expect(error?.message == "input \"a\": batch of 3 is over the limit of 2")

        let fixed = try InputValidator(manifest: F.manifest(inputs: [["name": "a", "datatype": "FP32", "shape": [4]]], maxBatch: 1))
        #expect(throws: Never.self) { try fixed.checkDeclarations([TensorHeader(name: "a", datatype: .fp32, shape: [4])]) }
    }

    @Test("Manifest.checkInputs refuses headers as it refuses the tensors they describe", arguments: CheckInputsTests.invalid)
    func manifestOnHeaders(_ invalid: CheckInputsTests.Case) throws {
        let manifest = try CheckInputsTests.manifest()
        let tensors = try invalid.tensors()
        let onTensors = #expect(throws: ModelHostError.self) { try manifest.checkInputs(tensors) }
        let onHeaders = #expect(throws: ModelHostError.self) { try manifest.checkInputs(tensors.map(\.header)) }
        #expect(onHeaders == onTensors)
    }
}
