import Foundation
import ModelHostCore
import ModelManifest
import Testing

/// Manifests and tensors for the validator tests.
enum ValidatorFixture {
    static let manifestsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("manifests")

    /// The validator for an example manifest, by model name.
    static func example(_ name: String) throws -> InputValidator {
        try InputValidator(manifest: Manifest.load(contentsOf: manifestsDirectory.appendingPathComponent("\(name).json").path))
    }

    /// A manifest declaring `inputs`, everything else minimal.
    static func manifest(inputs: [[String: Any]], maxBatch: Int? = nil) throws -> Manifest {
        var object: [String: Any] = [
            "manifestVersion": 1, "name": "synthetic", "version": "1.0.0", "library": "libSynthetic.so",
            "sha256": "", "abiVersion": 1, "inputs": inputs,
            "outputs": [["name": "y", "datatype": "FP32", "shape": [-1]]],
        ]
        if let maxBatch { object["limits"] = ["maxBatch": maxBatch] }
        return try Manifest.parse(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), file: "synthetic.json")
    }

    /// The validator for a manifest with one input `x`.
    static func single(_ datatype: String, shape: [Int] = [-1], constraints: [String: Any] = [:]) throws -> InputValidator {
        try InputValidator(manifest: manifest(inputs: [["name": "x", "datatype": datatype, "shape": shape, "constraints": constraints]], maxBatch: 1024))
    }

    static func bytes(_ name: String, _ elements: [[UInt8]]) throws -> Tensor {
        try Tensor(name: name, shape: [elements.count], byteElements: elements)
    }

    static func strings(_ name: String, _ elements: [String]) throws -> Tensor {
        try Tensor(name: name, shape: [elements.count], strings: elements)
    }

    static func fp64(_ name: String, _ values: [Double]) throws -> Tensor {
        try Tensor(name: name, datatype: .fp64, shape: [values.count], data: values.flatMap { littleEndian($0.bitPattern) })
    }

    static func fp32(_ name: String, _ values: [Float]) throws -> Tensor {
        try Tensor(name: name, datatype: .fp32, shape: [values.count], data: values.flatMap { littleEndian($0.bitPattern) })
    }

    /// An integer tensor of `datatype`; each value must fit it.
    static func integers(_ name: String, _ datatype: Datatype, _ values: [Int128]) throws -> Tensor {
        let data: [UInt8] = values.flatMap { value -> [UInt8] in
            switch datatype {
            case .int8: littleEndian(Int8(value))
            case .int16: littleEndian(Int16(value))
            case .int32: littleEndian(Int32(value))
            case .int64: littleEndian(Int64(value))
            case .uint8: littleEndian(UInt8(value))
            case .uint16: littleEndian(UInt16(value))
            case .uint32: littleEndian(UInt32(value))
            case .uint64: littleEndian(UInt64(value))
            default: []
            }
        }
        return try Tensor(name: name, datatype: datatype, shape: [values.count], data: data)
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// An anomaly-detector request with one transaction.
    static func transaction(amount: Double = 42.5, timestamp: String = "2026-03-14T18:05:00Z", category: String = "grocery") throws -> [Tensor] {
        [try fp64("amount", [amount]), try strings("timestamp", [timestamp]), try strings("merchant_category", [category])]
    }

    static func ascii(_ count: Int) -> String { String(repeating: "a", count: count) }
}

/// One request and what the validator should make of it.
struct ValidationCase: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        case accepted
        /// Refused with a `.validation` error whose message holds every fragment.
        case refused([String])
    }

    var testDescription: String
    var outcome: Outcome
    var tensors: @Sendable () throws -> [Tensor]

    init(_ description: String, _ outcome: Outcome, _ tensors: @escaping @Sendable () throws -> [Tensor]) {
        self.testDescription = description
        self.outcome = outcome
        self.tensors = tensors
    }

    func run(_ validator: InputValidator) throws {
        let tensors = try tensors()
        switch outcome {
        case .accepted:
            let validated = try validator.validate(tensors)
            #expect(validated.tensors == tensors)
            #expect(validated.truncations.isEmpty)
        case .refused(let fragments):
            let error = #expect(throws: ModelHostError.self) { try validator.validate(tensors) }
            #expect(error?.code == .validation)
            for fragment in fragments {
                #expect(error?.message.contains(fragment) == true, "message: \(error?.message ?? "none")")
            }
        }
    }
}

@Suite("InputValidator")
struct InputValidatorTests {
    typealias F = ValidatorFixture

    // MARK: Example manifests

    static let intentClassifierCases: [ValidationCase] = [
        ValidationCase("a query", .accepted) { [try F.strings("query", ["What is my balance?"])] },
        ValidationCase("exactly 512 bytes", .accepted) { [try F.strings("query", [F.ascii(512)])] },
        ValidationCase("a batch of 32", .accepted) { [try F.strings("query", Array(repeating: "hi", count: 32))] },
        ValidationCase("multi-byte text", .accepted) { [try F.strings("query", ["Überweisung 💶 nach Köln"])] },
        ValidationCase("an empty query", .refused(["input \"query\": shorter than 1 byte"])) { [try F.strings("query", [""])] },
        ValidationCase("an empty query in a batch", .refused(["input \"query\" element 1: shorter than 1 byte"])) {
            [try F.strings("query", ["fine", "", "fine"])]
        },
        ValidationCase("invalid UTF-8", .refused(["input \"query\": not valid UTF-8"])) { [try F.bytes("query", [[0x68, 0xC3, 0x28]])] },
        ValidationCase("an overlong encoding", .refused(["not valid UTF-8"])) { [try F.bytes("query", [[0xC0, 0x80]])] },
        ValidationCase("a UTF-16 surrogate", .refused(["not valid UTF-8"])) { [try F.bytes("query", [[0xED, 0xA0, 0x80]])] },
        ValidationCase("above U+10FFFF", .refused(["not valid UTF-8"])) { [try F.bytes("query", [[0xF4, 0x90, 0x80, 0x80]])] },
        ValidationCase("a sequence cut short", .refused(["not valid UTF-8"])) { [try F.bytes("query", [Array("abc".utf8) + [0xE2, 0x82]])] },
        ValidationCase("a stray continuation byte after ASCII", .refused(["input \"query\" element 1: not valid UTF-8"])) {
            [try F.bytes("query", [Array("ok".utf8), Array(F.ascii(20).utf8) + [0x80]])]
        },
        ValidationCase("a NUL byte", .refused(["input \"query\": contains a NUL byte"])) { [try F.strings("query", ["ab\u{0}cd"])] },
        ValidationCase("a NUL byte in a long ASCII run", .refused(["contains a NUL byte"])) {
            [try F.strings("query", [F.ascii(40) + "\u{0}" + F.ascii(40)])]
        },
        ValidationCase("a batch of 33", .refused(["input \"query\": batch of 33 is over the limit of 32"])) {
            [try F.strings("query", Array(repeating: "hi", count: 33))]
        },
        ValidationCase("the wrong datatype", .refused(["input \"query\"", "datatype must be BYTES"])) { [try F.fp32("query", [1])] },
        ValidationCase("an unknown input", .refused(["input \"other\"", "not an input"])) {
            [try F.strings("query", ["hi"]), try F.strings("other", ["hi"])]
        },
        ValidationCase("no query", .refused(["input \"query\": required but missing"])) { [] },
    ]

    @Test("intent-classifier: requests accepted or refused by its manifest", arguments: intentClassifierCases)
    func intentClassifier(_ testCase: ValidationCase) throws {
        try testCase.run(F.example("intent-classifier"))
    }

    static let anomalyDetectorCases: [ValidationCase] = [
        ValidationCase("a valid transaction", .accepted) { try F.transaction() },
        ValidationCase("the bounds themselves", .accepted) {
            [try F.fp64("amount", [0.01, 1_000_000]), try F.strings("timestamp", ["2026-03-14T18:05:00.123+01:00", "2026-03-14T18:05:00Z"]),
             try F.strings("merchant_category", ["online_retail", "fuel"])]
        },
        ValidationCase("amount 0", .refused(["input \"amount\": below the minimum of 0.01"])) { try F.transaction(amount: 0) },
        ValidationCase("amount 2e6", .refused(["input \"amount\": above the maximum of 1000000"])) { try F.transaction(amount: 2e6) },
        ValidationCase("amount NaN", .refused(["input \"amount\": not a finite number"])) { try F.transaction(amount: .nan) },
        ValidationCase("amount infinite", .refused(["input \"amount\": not a finite number"])) { try F.transaction(amount: .infinity) },
        ValidationCase("a bad amount in a batch", .refused(["input \"amount\" element 2: below the minimum of 0.01"])) {
            [try F.fp64("amount", [5, 6, -1]), try F.strings("timestamp", Array(repeating: "2026-03-14T18:05:00Z", count: 3)),
             try F.strings("merchant_category", ["a", "b", "c"])]
        },
        ValidationCase("a timestamp with a space", .refused(["input \"timestamp\": does not match the pattern"])) {
            try F.transaction(timestamp: "2026-03-14 18:05:00Z")
        },
        ValidationCase("a timestamp without a zone", .refused(["input \"timestamp\": does not match the pattern"])) {
            try F.transaction(timestamp: "2026-03-14T18:05:00.000")
        },
        ValidationCase("a date alone", .refused(["input \"timestamp\": shorter than 20 bytes"])) { try F.transaction(timestamp: "2026-03-14") },
        ValidationCase("a category with uppercase", .refused(["input \"merchant_category\": does not match the pattern ^[a-z_]+$"])) {
            try F.transaction(category: "Grocery")
        },
        ValidationCase("a category with a trailing newline", .refused(["does not match the pattern"])) { try F.transaction(category: "grocery\n") },
        ValidationCase("an empty category", .refused(["input \"merchant_category\": shorter than 1 byte"])) { try F.transaction(category: "") },
        ValidationCase("a category over 64 bytes", .refused(["input \"merchant_category\": longer than 64 bytes"])) {
            try F.transaction(category: String(repeating: "x", count: 65))
        },
        ValidationCase("a batch of 65", .refused(["batch of 65 is over the limit of 64"])) {
            [try F.fp64("amount", Array(repeating: 1, count: 65)), try F.strings("timestamp", Array(repeating: "2026-03-14T18:05:00Z", count: 65)),
             try F.strings("merchant_category", Array(repeating: "fuel", count: 65))]
        },
        ValidationCase("no category", .refused(["input \"merchant_category\": required but missing"])) { Array(try F.transaction().prefix(2)) },
    ]

    @Test("anomaly-detector: requests accepted or refused by its manifest", arguments: anomalyDetectorCases)
    func anomalyDetector(_ testCase: ValidationCase) throws {
        try testCase.run(F.example("anomaly-detector"))
    }

    static let echoCases: [ValidationCase] = [
        ValidationCase("numbers, no text", .accepted) { [try F.fp32("input0", [1, 2, 3, 4])] },
        ValidationCase("numbers and text", .accepted) { [try F.fp32("input0", [-1e30, 0, 1e30]), try F.strings("text", ["hello", ""])] },
        ValidationCase("NaN", .refused(["input \"input0\" element 1: not a finite number"])) { [try F.fp32("input0", [1, .nan, 3])] },
        ValidationCase("-infinity", .refused(["input \"input0\": not a finite number"])) { [try F.fp32("input0", [-.infinity])] },
        ValidationCase("text over 4096 bytes", .refused(["input \"text\": longer than 4096 bytes"])) {
            [try F.fp32("input0", [1]), try F.strings("text", [F.ascii(4097)])]
        },
        ValidationCase("text with NUL", .refused(["input \"text\": contains a NUL byte"])) {
            [try F.fp32("input0", [1]), try F.strings("text", ["a\u{0}"])]
        },
        ValidationCase("a batch of 1025", .refused(["input \"input0\": batch of 1025 is over the limit of 1024"])) {
            [try F.fp32("input0", Array(repeating: 1, count: 1025))]
        },
    ]

    @Test("echo: requests accepted or refused by its manifest", arguments: echoCases)
    func echo(_ testCase: ValidationCase) throws {
        try testCase.run(F.example("echo"))
    }

    @Test("every example's warmup samples pass its validator", arguments: ["echo", "intent-classifier", "anomaly-detector"])
    func warmupPasses(_ name: String) throws {
        let validator = try F.example(name)
        #expect(!validator.manifest.warmup.isEmpty)
        for sample in validator.manifest.warmup {
            #expect(try validator.validate(sample.inputs).tensors == sample.inputs)
        }
    }

    // MARK: Truncation

    struct TruncationCase: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var text: String
        var keptLength: Int
    }

    static let truncationCases: [TruncationCase] = [
        TruncationCase(testDescription: "600 ASCII bytes", text: F.ascii(600), keptLength: 512),
        TruncationCase(testDescription: "511 ASCII + é", text: F.ascii(511) + "é", keptLength: 511),
        TruncationCase(testDescription: "511 ASCII + é + more", text: F.ascii(511) + "é" + F.ascii(50), keptLength: 511),
        TruncationCase(testDescription: "510 ASCII + é + more", text: F.ascii(510) + "é" + F.ascii(50), keptLength: 512),
        TruncationCase(testDescription: "510 ASCII + € (3 bytes)", text: F.ascii(510) + "€x", keptLength: 510),
        TruncationCase(testDescription: "511 ASCII + € (3 bytes)", text: F.ascii(511) + "€", keptLength: 511),
        TruncationCase(testDescription: "509 ASCII + 😀 (4 bytes)", text: F.ascii(509) + "😀x", keptLength: 509),
        TruncationCase(testDescription: "510 ASCII + 😀", text: F.ascii(510) + "😀", keptLength: 510),
        TruncationCase(testDescription: "511 ASCII + 😀", text: F.ascii(511) + "😀", keptLength: 511),
        TruncationCase(testDescription: "508 ASCII + 😀 + x", text: F.ascii(508) + "😀x", keptLength: 512),
        TruncationCase(testDescription: "only 2-byte characters", text: String(repeating: "ä", count: 300), keptLength: 512),
        TruncationCase(testDescription: "only 3-byte characters", text: String(repeating: "€", count: 200), keptLength: 510),
        TruncationCase(testDescription: "only 4-byte characters", text: String(repeating: "😀", count: 200), keptLength: 512),
        TruncationCase(testDescription: "e + combining acute, cut between the scalars", text: F.ascii(511) + "e\u{301}", keptLength: 512),
    ]

    @Test("intent-classifier: an over-long query is cut on a UTF-8 character boundary", arguments: truncationCases)
    func truncation(_ testCase: TruncationCase) throws {
        let original = Array(testCase.text.utf8)
        let validated = try F.example("intent-classifier").validate([F.strings("query", [testCase.text])])
        #expect(validated.truncations == [Truncation(input: "query", element: 0, originalLength: original.count, truncatedLength: testCase.keptLength)])
        let kept = try #require(validated.tensors.first?.byteElements.first)
        #expect(Array(kept) == Array(original.prefix(testCase.keptLength)))
        #expect(kept.count <= 512)
        #expect(String(validating: kept, as: UTF8.self) != nil)
    }

    @Test("truncation cuts only the over-long elements of a batch and keeps the layout")
    func truncationInBatch() throws {
        let elements = ["short", F.ascii(600), "also short", F.ascii(511) + "ü" + F.ascii(10), "end"]
        let tensors = [try F.strings("query", elements)]
        let validated = try F.example("intent-classifier").validate(tensors)
        #expect(validated.truncations == [
            Truncation(input: "query", element: 1, originalLength: 600, truncatedLength: 512),
            Truncation(input: "query", element: 3, originalLength: 523, truncatedLength: 511),
        ])
        let tensor = try #require(validated.tensors.first)
        #expect(tensor.shape == [5])
        #expect(tensor.byteElements.map { String(decoding: $0, as: UTF8.self) } == ["short", F.ascii(512), "also short", F.ascii(511), "end"])
    }

    @Test("the pattern is checked after truncation")
    func patternAfterTruncation() throws {
        let validator = try F.single("BYTES", constraints: ["maxLength": 4, "overLength": "truncate", "pattern": "[a-z]{4}"])
        let validated = try validator.validate([F.strings("x", ["abcdEFGH"])])
        #expect(validated.tensors.first?.byteElements.first.map(Array.init) == Array("abcd".utf8))
        #expect(validated.truncations.first?.originalLength == 8)
        let error = #expect(throws: ModelHostError.self) { try validator.validate([F.strings("x", ["abcDefgh"])]) }
        #expect(error?.message == "input \"x\": does not match the pattern [a-z]{4}")
    }

    @Test("a truncated value shorter than minLength is refused")
    func truncatedBelowMinimum() throws {
        let validator = try F.single("BYTES", constraints: ["minLength": 4, "maxLength": 4, "overLength": "truncate"])
        #expect(try validator.validate([F.strings("x", ["abcd"])]).truncations.isEmpty)
        #expect(try validator.validate([F.strings("x", ["abcdé"])]).truncations.first?.truncatedLength == 4)
        // "abc€" is 6 bytes; the limit falls inside "€", so the cut leaves "abc".
        let error = #expect(throws: ModelHostError.self) { try validator.validate([F.strings("x", ["abc€"])]) }
        #expect(error?.message == "input \"x\": shorter than 4 bytes")
    }

    @Test("bytes that are not UTF-8 are cut at most three bytes before the limit")
    func truncationOfNonText() throws {
        let validator = try F.single("BYTES", constraints: ["maxLength": 4, "overLength": "truncate", "requireUTF8": false])
        let validated = try validator.validate([F.bytes("x", [[UInt8](repeating: 0x80, count: 10)])])
        #expect(validated.truncations.first?.truncatedLength == 1)
    }

    // MARK: Integers

    struct IntegerCase: Sendable, CustomTestStringConvertible {
        var datatype: Datatype
        var minimum: Double?
        var maximum: Double?
        var accepted: [Int128]
        var below: Int128 = 0
        var above: Int128 = 0
        var testDescription: String {
            "\(datatype.rawValue) \(minimum.map { "\($0)" } ?? "")...\(maximum.map { "\($0)" } ?? "")"
        }
    }

    static let integerCases: [IntegerCase] = [
        IntegerCase(datatype: .int8, minimum: -100, maximum: 100, accepted: [-100, 0, 100], below: -128, above: 101),
        IntegerCase(datatype: .int8, minimum: -127, maximum: 126, accepted: Array(-127...126), below: -128, above: 127),
        IntegerCase(datatype: .int16, minimum: -30000, maximum: 30000, accepted: [-30000, 30000], below: -30001, above: 32767),
        IntegerCase(datatype: .int32, minimum: -2e9, maximum: 2e9, accepted: [-2_000_000_000, 2_000_000_000], below: -2_000_000_001, above: 2_000_000_001),
        IntegerCase(datatype: .int32, minimum: 0.5, maximum: 2.5, accepted: [1, 2], below: 0, above: 3),
        // 2^62 and 2^62 + 1 are the same Double: only an integer comparison tells them apart.
        IntegerCase(datatype: .int64, minimum: -0x1p62, maximum: 0x1p62, accepted: [-(1 << 62), 1 << 62], below: -(1 << 62) - 1, above: (1 << 62) + 1),
        IntegerCase(datatype: .int64, minimum: nil, maximum: 5, accepted: [Int128(Int64.min), 5], above: 6),
        IntegerCase(datatype: .uint8, minimum: 10, maximum: 200, accepted: [10, 200], below: 9, above: 255),
        IntegerCase(datatype: .uint16, minimum: 1, maximum: 65000, accepted: [1, 65000], below: 0, above: 65001),
        IntegerCase(datatype: .uint32, minimum: 1, maximum: 4e9, accepted: [1, 4_000_000_000], below: 0, above: 4_000_000_001),
        IntegerCase(datatype: .uint64, minimum: 1, maximum: 0x1p63, accepted: [1, 1 << 63], below: 0, above: (1 << 63) + 1),
        IntegerCase(datatype: .uint64, minimum: 7, maximum: nil, accepted: [7, Int128(UInt64.max)], below: 6),
    ]

    /// A bound as the message spells it: integral bounds without a fraction.
    static func spelled(_ bound: Double) -> String {
        bound == bound.rounded() ? String(Int128(bound)) : "\(bound)"
    }

    @Test("integer datatypes: inclusive bounds, compared exactly", arguments: integerCases)
    func integerBounds(_ testCase: IntegerCase) throws {
        var constraints: [String: Any] = [:]
        constraints["minimum"] = testCase.minimum
        constraints["maximum"] = testCase.maximum
        let validator = try F.single(testCase.datatype.rawValue, constraints: constraints)
        let accepted = try F.integers("x", testCase.datatype, testCase.accepted)
        #expect(try validator.validate([accepted]).tensors == [accepted])
        if let minimum = testCase.minimum {
            let error = #expect(throws: ModelHostError.self) { try validator.validate([F.integers("x", testCase.datatype, [testCase.below])]) }
            #expect(error?.message == "input \"x\": below the minimum of \(Self.spelled(minimum))")
            #expect(error?.code == .validation)
        }
        if let maximum = testCase.maximum {
            let values = testCase.accepted + [testCase.above]
            let error = #expect(throws: ModelHostError.self) { try validator.validate([F.integers("x", testCase.datatype, values)]) }
            #expect(error?.message == "input \"x\" element \(testCase.accepted.count): above the maximum of \(Self.spelled(maximum))")
        }
    }

    @Test("INT8 bounds at the datatype's own limits accept every value")
    func int8FullRange() throws {
        let validator = try F.single("INT8", constraints: ["minimum": -128, "maximum": 127])
        let tensor = try F.integers("x", .int8, Array(-128...127))
        #expect(try validator.validate([tensor]).tensors == [tensor])
        let wider = try F.single("UINT8", constraints: ["minimum": -5, "maximum": 1000])
        #expect(throws: Never.self) { try wider.validate([F.integers("x", .uint8, [0, 255])]) }
    }

    @Test("integer bounds no value of the datatype can meet are a manifest error", arguments: [
        ("UINT8", 300.0, 400.0, "inputs[0].constraints.minimum"),
        ("INT8", -1000.0, -200.0, "inputs[0].constraints.maximum"),
        ("INT16", 0.2, 0.8, "inputs[0].constraints.minimum"),
        ("INT64", 1e19, 1e20, "inputs[0].constraints.minimum"),
        ("UINT64", -10.0, -1.0, "inputs[0].constraints.maximum"),
    ])
    func impossibleIntegerBounds(_ datatype: String, _ minimum: Double, _ maximum: Double, _ path: String) throws {
        let manifest = try F.manifest(inputs: [["name": "x", "datatype": datatype, "shape": [-1], "constraints": ["minimum": minimum, "maximum": maximum]]])
        let error = #expect(throws: ManifestError.self) { try InputValidator(manifest: manifest) }
        #expect(error?.path == path)
        #expect(error?.file == "synthetic 1.0.0")
    }

    // MARK: Floating point

    @Test("allowNonFinite accepts NaN and infinities", arguments: ["FP32", "FP64"])
    func nonFiniteAllowed(_ datatype: String) throws {
        let validator = try F.single(datatype, constraints: ["allowNonFinite": true])
        let tensor = datatype == "FP32"
            ? try F.fp32("x", [.nan, .infinity, -.infinity, .signalingNaN, 1])
            : try F.fp64("x", [.nan, .infinity, -.infinity, .signalingNaN, 1])
        #expect(try validator.validate([tensor]).tensors == [tensor])
    }

    @Test("with allowNonFinite, an infinity beyond a bound is still refused and NaN is not")
    func nonFiniteWithBounds() throws {
        let validator = try F.single("FP64", constraints: ["allowNonFinite": true, "minimum": -10, "maximum": 10])
        #expect(throws: Never.self) { try validator.validate([F.fp64("x", [.nan, 10, -10])]) }
        let error = #expect(throws: ModelHostError.self) { try validator.validate([F.fp64("x", [.infinity])]) }
        #expect(error?.message == "input \"x\": above the maximum of 10")
    }

    @Test("FP32 bounds are rounded to FP32, so the float nearest a bound passes it")
    func fp32Bounds() throws {
        let validator = try F.single("FP32", constraints: ["minimum": 0.01, "maximum": 1.5])
        #expect(throws: Never.self) { try validator.validate([F.fp32("x", [0.01, 1.5])]) }
        let below = #expect(throws: ModelHostError.self) { try validator.validate([F.fp32("x", [Float(0.01).nextDown])]) }
        #expect(below?.message == "input \"x\": below the minimum of 0.01")
        let above = #expect(throws: ModelHostError.self) { try validator.validate([F.fp32("x", [Float(1.5).nextUp])]) }
        #expect(above?.message == "input \"x\": above the maximum of 1.5")
        let nan = #expect(throws: ModelHostError.self) { try validator.validate([F.fp32("x", [.nan])]) }
        #expect(nan?.message == "input \"x\": not a finite number (NaN and infinities are refused)")
    }

    // MARK: BYTES switches

    struct BytesSwitchCase: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var requiresUTF8: Bool? = nil
        var allowsNUL: Bool? = nil
        var pattern: String? = nil
        var bytes: [UInt8]
        var isAccepted: Bool
    }

    static let bytesSwitchCases: [BytesSwitchCase] = [
        BytesSwitchCase(testDescription: "requireUTF8 false accepts invalid bytes", requiresUTF8: false, bytes: [0xFF, 0xFE, 0xC0, 0x80], isAccepted: true),
        BytesSwitchCase(testDescription: "requireUTF8 false still refuses NUL", requiresUTF8: false, bytes: [0xFF, 0x00], isAccepted: false),
        BytesSwitchCase(testDescription: "allowNUL true accepts NUL", allowsNUL: true, bytes: Array("a\u{0}b".utf8), isAccepted: true),
        BytesSwitchCase(testDescription: "allowNUL true still refuses invalid UTF-8", allowsNUL: true, bytes: [0x00, 0xFF], isAccepted: false),
        BytesSwitchCase(testDescription: "both switches accept anything", requiresUTF8: false, allowsNUL: true, bytes: [0x00, 0xFF, 0xED, 0xA0, 0x80], isAccepted: true),
        BytesSwitchCase(testDescription: "a pattern refuses bytes that are not text", requiresUTF8: false, pattern: ".*", bytes: [0xFF], isAccepted: false),
        BytesSwitchCase(testDescription: "a pattern matches text when UTF-8 is not required", requiresUTF8: false, pattern: "a.c", bytes: Array("aéc".utf8), isAccepted: true),
    ]

    @Test("requireUTF8, allowNUL, and patterns over bytes", arguments: bytesSwitchCases)
    func bytesSwitches(_ testCase: BytesSwitchCase) throws {
        var constraints: [String: Any] = [:]
        constraints["requireUTF8"] = testCase.requiresUTF8
        constraints["allowNUL"] = testCase.allowsNUL
        constraints["pattern"] = testCase.pattern
        let validator = try F.single("BYTES", constraints: constraints)
        let tensor = try F.bytes("x", [testCase.bytes])
        if testCase.isAccepted {
            #expect(try validator.validate([tensor]).tensors == [tensor])
        } else {
            let error = #expect(throws: ModelHostError.self) { try validator.validate([tensor]) }
            #expect(error?.code == .validation)
        }
    }

    @Test("the UTF-8 check agrees with the standard library on generated byte strings")
    func utf8AgreesWithStandardLibrary() throws {
        let validator = try F.single("BYTES", constraints: ["allowNUL": true])
        // Bytes drawn mostly from the interesting ranges: ASCII, continuations, and every lead byte.
        let alphabet: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var generator = ValidatorTestRandom(seed: 20_260_314)
        var accepted = 0
        for _ in 0..<3000 {
            let count = Int(generator.next() % 24)
            let bytes = (0..<count).map { _ in
                generator.next() % 3 == 0 ? alphabet[Int(generator.next() % UInt64(alphabet.count))] : UInt8(truncatingIfNeeded: generator.next())
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            let tensor = try F.bytes("x", [bytes])
            let actual = (try? validator.validate([tensor])) != nil
            #expect(actual == expected, "bytes: \(bytes)")
            if actual { accepted += 1 }
        }
        #expect(accepted > 100)
    }

    // MARK: Batches and shapes

    @Test("the batch limit applies to a variable first dimension only")
    func batchOnlyForVariableFirstDimension() throws {
        let manifest = try F.manifest(
            inputs: [["name": "a", "datatype": "FP32", "shape": [-1, 2]], ["name": "b", "datatype": "FP32", "shape": [4], "required": false]],
            maxBatch: 2
        )
        let validator = try InputValidator(manifest: manifest)
        let ok = try Tensor(name: "a", datatype: .fp32, shape: [2, 2], data: [UInt8](repeating: 0, count: 16))
        let fixed = try F.fp32("b", [1, 2, 3, 4])
        #expect(throws: Never.self) { try validator.validate([ok, fixed]) }
        let tooMany = try Tensor(name: "a", datatype: .fp32, shape: [3, 2], data: [UInt8](repeating: 0, count: 24))
        let error = #expect(throws: ModelHostError.self) { try validator.validate([tooMany]) }
        #expect(error?.message == "input \"a\": batch of 3 is over the limit of 2")
    }

    @Test("element indices are row-major across every dimension")
    func rowMajorIndex() throws {
        let validator = try F.single("INT32", shape: [-1, 3], constraints: ["maximum": 9])
        let data = [1, 2, 3, 4, 5, 60].flatMap { F.littleEndian(Int32($0)) }
        let tensor = try Tensor(name: "x", datatype: .int32, shape: [2, 3], data: data)
        let error = #expect(throws: ModelHostError.self) { try validator.validate([tensor]) }
        #expect(error?.message == "input \"x\" element 5: above the maximum of 9")
    }

    @Test("inputs come back in the order given, untouched when nothing is cut")
    func orderKept() throws {
        let tensors = [try F.strings("merchant_category", ["fuel"]), try F.strings("timestamp", ["2026-03-14T18:05:00Z"]), try F.fp64("amount", [1])]
        let validated = try F.example("anomaly-detector").validate(tensors)
        #expect(validated.tensors == tensors)
        #expect(validated.truncations.isEmpty)
    }

    // MARK: Log safety

    static let secret = "sk_live_9f8e7d6c5b4a"

    static let secretCases: [ValidationCase] = [
        ValidationCase("pattern", .refused(["does not match"])) { [try F.strings("x", [secret])] },
        ValidationCase("too long", .refused(["longer than 32 bytes"])) { [try F.strings("x", [secret + String(repeating: "_", count: 40)])] },
        ValidationCase("invalid UTF-8", .refused(["not valid UTF-8"])) { [try F.bytes("x", [Array(secret.utf8) + [0xFF]])] },
        ValidationCase("NUL", .refused(["NUL"])) { [try F.bytes("x", [Array(secret.utf8) + [0]])] },
        ValidationCase("in a batch", .refused(["element 1"])) { [try F.strings("x", ["fine", secret])] },
    ]

    @Test("a refusal never quotes the refused value", arguments: secretCases)
    func noContentInMessage(_ testCase: ValidationCase) throws {
        let validator = try F.single("BYTES", constraints: ["maxLength": 32, "pattern": "[a-z]{1,8}"])
        try testCase.run(validator)
        let error = #expect(throws: ModelHostError.self) { try validator.validate(testCase.tensors()) }
        let message = error?.message ?? ""
        #expect(!message.contains(Self.secret))
        #expect(!message.contains("9f8e7d"))
        #expect(!message.contains("sk_live"))
    }

    @Test("a refused number is not quoted")
    func noNumberInMessage() throws {
        let validator = try F.single("FP64", constraints: ["maximum": 100])
        let error = #expect(throws: ModelHostError.self) { try validator.validate([F.fp64("x", [31337.4242])]) }
        #expect(error?.message.contains("31337") == false)
    }

    // MARK: Construction

    @Test("a manifest built in code with a bad pattern or a misplaced rule is refused at load")
    func constructionErrors() throws {
        var manifest = try F.manifest(inputs: [["name": "x", "datatype": "BYTES", "shape": [-1]]])
        manifest.inputs = [TensorSpec(name: "x", datatype: .bytes, shape: [-1], constraints: InputConstraints(pattern: "([a-z"))]
        let badPattern = #expect(throws: ManifestError.self) { try InputValidator(manifest: manifest) }
        #expect(badPattern?.path == "inputs[0].constraints.pattern")
        manifest.inputs = [TensorSpec(name: "x", datatype: .bytes, shape: [-1], constraints: InputConstraints(minimum: 1))]
        let misplaced = #expect(throws: ManifestError.self) { try InputValidator(manifest: manifest) }
        #expect(misplaced?.path == "inputs[0].constraints.minimum")
        manifest.inputs = [TensorSpec(name: "x", datatype: .int8, shape: [-1], constraints: InputConstraints(maxLength: 3))]
        #expect(throws: ManifestError.self) { try InputValidator(manifest: manifest) }
    }

    @Test("one validator serves concurrent requests")
    func concurrentUse() async throws {
        let validator = try F.example("anomaly-detector")
        let failures = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var failures = 0
                    for index in 0..<100 {
                        let category = (task + index) % 2 == 0 ? "grocery" : "Grocery"
                        let isAccepted = (try? validator.validate(F.transaction(category: category))) != nil
                        if isAccepted != ((task + index) % 2 == 0) { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}

/// A small deterministic generator, so the generated byte strings are the same on every run.
struct ValidatorTestRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
