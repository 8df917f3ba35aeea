import ModelHostCore
import ModelManifest
import Testing

/// Each rule the validator enforces, refused with the declared input and the rule's stable name in
/// ``ModelHostError/validationFailure``, for metrics to count without reading the message.
@Suite("InputValidator failures")
struct InputValidatorFailureTests {
    typealias F = ValidatorFixture
    typealias Failure = ModelHostError.ValidationFailure

    /// A request refused by one rule, and the failure it must carry.
    struct FailureCase: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var validator: @Sendable () throws -> InputValidator
        var tensors: @Sendable () throws -> [Tensor]
        var input: String
        var rule: String

        init(
            _ description: String, input: String, rule: String,
            validator: @escaping @Sendable () throws -> InputValidator, tensors: @escaping @Sendable () throws -> [Tensor]
        ) {
            self.testDescription = description
            self.input = input
            self.rule = rule
            self.validator = validator
            self.tensors = tensors
        }
    }

    static let intent: @Sendable () throws -> InputValidator = { try F.example("intent-classifier") }
    static let anomaly: @Sendable () throws -> InputValidator = { try F.example("anomaly-detector") }
    static let echo: @Sendable () throws -> InputValidator = { try F.example("echo") }
    static let int32: @Sendable () throws -> InputValidator = { try F.single("INT32", constraints: ["minimum": -5, "maximum": 5]) }

    static let cases: [FailureCase] = [
        FailureCase("a required input left out", input: "amount", rule: "missing", validator: anomaly) { [] },
        FailureCase("an input the model does not declare", input: "(undeclared)", rule: "unknown_input", validator: intent) {
            [try F.strings("query", ["hi"]), try F.strings("caller-chosen-name", ["hi"])]
        },
        FailureCase("an input given twice", input: "query", rule: "duplicate", validator: intent) {
            [try F.strings("query", ["hi"]), try F.strings("query", ["hi"])]
        },
        FailureCase("the wrong datatype", input: "query", rule: "datatype", validator: intent) { [try F.fp32("query", [1])] },
        FailureCase("the wrong rank", input: "query", rule: "shape", validator: intent) {
            [try Tensor(name: "query", shape: [1, 1], strings: ["hi"])]
        },
        FailureCase("a batch over limits.maxBatch", input: "query", rule: "max_batch", validator: intent) {
            [try F.strings("query", Array(repeating: "hi", count: 33))]
        },
        FailureCase("bytes that are not UTF-8", input: "query", rule: "utf8", validator: intent) { [try F.bytes("query", [[0x68, 0xC3, 0x28]])] },
        FailureCase("a NUL byte", input: "query", rule: "nul", validator: intent) { [try F.strings("query", ["ok", "a\u{0}b"])] },
        FailureCase("shorter than minLength", input: "query", rule: "min_length", validator: intent) { [try F.strings("query", [""])] },
        FailureCase("longer than maxLength, not truncated", input: "text", rule: "max_length", validator: echo) {
            [try F.fp32("input0", [1]), try F.strings("text", [F.ascii(4097)])]
        },
        FailureCase("not matching the pattern", input: "merchant_category", rule: "pattern", validator: anomaly) {
            try F.transaction(category: "Grocery!")
        },
        FailureCase("a floating-point number below the minimum", input: "amount", rule: "minimum", validator: anomaly) {
            try F.transaction(amount: 0)
        },
        FailureCase("a floating-point number above the maximum", input: "amount", rule: "maximum", validator: anomaly) {
            try F.transaction(amount: 1_000_001)
        },
        FailureCase("NaN", input: "amount", rule: "non_finite", validator: anomaly) { try F.transaction(amount: .nan) },
        FailureCase("an infinity", input: "amount", rule: "non_finite", validator: anomaly) { try F.transaction(amount: .infinity) },
        FailureCase("an integer below the minimum", input: "x", rule: "minimum", validator: int32) { [try F.integers("x", .int32, [0, -6])] },
        FailureCase("an integer above the maximum", input: "x", rule: "maximum", validator: int32) { [try F.integers("x", .int32, [6])] },
    ]

    @Test("each rule is refused with its input and rule", arguments: cases)
    func failure(_ testCase: FailureCase) throws {
        let validator = try testCase.validator()
        let tensors = try testCase.tensors()
        let error = #expect(throws: ModelHostError.self) { try validator.validate(tensors) }
        #expect(error?.code == .validation)
        #expect(error?.validationFailure?.input == testCase.input)
        #expect(error?.validationFailure?.rule.rawValue == testCase.rule)
    }

    /// The rules ``InputValidator/checkDeclarations(_:)`` enforces, before any data is read.
    static let declarationRules: Set<String> = ["missing", "unknown_input", "duplicate", "datatype", "shape", "max_batch"]

    @Test("checking declarations alone gives the same failure for declaration rules, and passes the others", arguments: cases)
    func declarationsAgree(_ testCase: FailureCase) throws {
        let validator = try testCase.validator()
        let headers = try testCase.tensors().map(\.header)
        let declared = Result { () throws(ModelHostError) in try validator.checkDeclarations(headers) }
        switch declared {
        case .failure(let error):
            #expect(Self.declarationRules.contains(testCase.rule))
            #expect(error.validationFailure?.input == testCase.input)
            #expect(error.validationFailure?.rule.rawValue == testCase.rule)
        case .success:
            #expect(!Self.declarationRules.contains(testCase.rule))
        }
    }

    @Test("the rules' names and the placeholder inputs are stable")
    func ruleNames() {
        let rules: [Failure.Rule] = [
            .missing, .unknownInput, .duplicate, .datatype, .shape, .maxBatch, .unbatchable, .utf8, .nul, .minLength, .maxLength,
            .pattern, .minimum, .maximum, .nonFinite, .unknownOutput,
        ]
        #expect(rules.map(\.rawValue) == [
            "missing", "unknown_input", "duplicate", "datatype", "shape", "max_batch", "unbatchable", "utf8", "nul", "min_length",
            "max_length", "pattern", "minimum", "maximum", "non_finite", "unknown_output",
        ])
        #expect(Failure.undeclaredInput == "(undeclared)")
        #expect(Failure.wholeRequest == "(request)")
    }

    @Test("a validation error built without a failure has none, and the failure takes part in equality")
    func failureIsOptional() {
        let plain = ModelHostError(.validation, "input \"x\": shape")
        #expect(plain.validationFailure == nil)
        let structured = ModelHostError(.validation, "input \"x\": shape", validationFailure: Failure(input: "x", rule: .shape))
        #expect(structured != plain)
        #expect(structured.validationFailure?.description == "x: shape")
    }
}
