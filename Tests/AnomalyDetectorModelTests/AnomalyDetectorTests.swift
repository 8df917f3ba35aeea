import Foundation
import PluginKit
import Testing

@testable import AnomalyDetectorModel

@Suite("AnomalyDetector")
struct AnomalyDetectorTests {
    let detector: AnomalyDetector

    init() throws {
        detector = try TestSupport.makeDetector()
    }

    // MARK: Scoring

    @Test("a typical grocery purchase at 18:00 scores low and is not anomalous")
    func typicalGroceryPurchase() throws {
        let result = try TestSupport.score(detector, amount: 42.50, timestamp: "2026-03-14T18:00:00Z", category: "grocery")
        #expect(result.score < 1.5)
        #expect(result.score < detector.model.threshold)
        #expect(!result.isAnomaly)
    }

    @Test("a 9,000 grocery purchase at 03:00 is anomalous")
    func largeNightGroceryPurchase() throws {
        let result = try TestSupport.score(detector, amount: 9_000, timestamp: "2026-03-14T03:00:00Z", category: "grocery")
        #expect(result.score >= detector.model.threshold)
        #expect(result.isAnomaly)
    }

    @Test("a grocery purchase far outside the usual range is anomalous at a usual hour too")
    func largeDaytimeGroceryPurchase() throws {
        let result = try TestSupport.score(detector, amount: 9_000, timestamp: "2026-03-14T18:00:00Z", category: "grocery")
        #expect(result.isAnomaly)
    }

    @Test("the hour used is the local one as written, whatever the offset")
    func localHour() throws {
        let timestamps = ["2026-03-14T03:00:00Z", "2026-03-14T03:00:00+09:00", "2026-03-14T03:00:00.250-05:00"]
        let scores = try timestamps.map { try TestSupport.score(detector, amount: 45, timestamp: $0, category: "grocery").score }
        #expect(Set(scores).count == 1)
        let daytime = try TestSupport.score(detector, amount: 45, timestamp: "2026-03-14T12:00:00+09:00", category: "grocery")
        #expect(daytime.score < scores[0])
    }

    @Test("utility autopay at night is usual, a utility payment late in the evening is not")
    func hourPatternsDifferByCategory() throws {
        let night = try TestSupport.score(detector, amount: 84, timestamp: "2026-06-01T03:05:00Z", category: "utilities")
        let evening = try TestSupport.score(detector, amount: 84, timestamp: "2026-06-01T21:05:00Z", category: "utilities")
        #expect(!night.isAnomaly)
        #expect(evening.isAnomaly)
    }

    @Test("an unknown category is scored with the global statistics, not rejected")
    func unknownCategoryUsesFallback() throws {
        let model = detector.model
        #expect(model.profiles["pet_supplies"] == nil)
        #expect(model.profile(for: "pet_supplies") == model.fallback)

        let result = try TestSupport.score(detector, amount: 25, timestamp: "2026-04-04T12:00:00Z", category: "pet_supplies")
        let location = model.fallback.locations[model.bucketOfHour[12]]
        let expected = abs(log(25) - location.median) / (model.madScale * max(location.mad, model.madFloor))
            + model.hourRarityWeight * model.fallback.hourRarity[12]
        #expect(abs(result.score - expected) < 1e-12)
        #expect(result.score != (try TestSupport.score(detector, amount: 25, timestamp: "2026-04-04T12:00:00Z", category: "grocery").score))
    }

    @Test("scores match those the training script computed")
    func referenceScores() throws {
        struct References: Decodable {
            struct Case: Decodable {
                let amount: Double
                let timestamp: String
                let merchantCategory: String
                let score: Double
                let isAnomaly: Bool
            }
            let threshold: Double
            let cases: [Case]
        }
        let url = TestSupport.pluginDirectory.appendingPathComponent("training/reference-scores.json")
        let references = try JSONDecoder().decode(References.self, from: Data(contentsOf: url))
        #expect(references.threshold == detector.model.threshold)
        #expect(!references.cases.isEmpty)

        let outputs = try detector.infer(
            TestSupport.inputs(
                amounts: references.cases.map(\.amount),
                timestamps: references.cases.map(\.timestamp),
                categories: references.cases.map(\.merchantCategory)
            )
        )
        let scores = TestSupport.doubles(outputs[0])
        let flags = TestSupport.bools(outputs[1])
        for (index, reference) in references.cases.enumerated() {
            #expect(abs(scores[index] - reference.score) < 1e-6, "case \(index): \(reference.merchantCategory) \(reference.timestamp)")
            #expect(flags[index] == reference.isAnomaly, "case \(index): \(reference.merchantCategory) \(reference.timestamp)")
        }
    }

    // MARK: Shapes

    @Test("outputs are score FP64 [N] and is_anomaly BOOL [N], in input order", arguments: [0, 1, 5, 64])
    func batchShapes(count: Int) throws {
        let amounts = (0..<count).map { $0.isMultiple(of: 2) ? 40.0 : 9_000.0 }
        let outputs = try detector.infer(
            TestSupport.inputs(
                amounts: amounts,
                timestamps: Array(repeating: "2026-03-14T18:00:00Z", count: count),
                categories: Array(repeating: "grocery", count: count)
            )
        )
        #expect(outputs.map(\.name) == ["score", "is_anomaly"])
        #expect(outputs.map(\.datatype) == [.fp64, .bool])
        #expect(outputs.map(\.shape) == [[count], [count]])
        #expect(TestSupport.bools(outputs[1]) == amounts.map { $0 > 1_000 })
    }

    @Test("a batch of joined requests is answered row for row, as each request alone")
    func joinedRequestsAnswerRowForRow() throws {
        #expect(AnomalyDetector.supportsBatching)
        let rows = Self.valid
        let joined = try detector.infer(TestSupport.inputs(amounts: rows.amounts, timestamps: rows.timestamps, categories: rows.categories))
        for index in rows.amounts.indices {
            let alone = try detector.infer(
                TestSupport.inputs(amounts: [rows.amounts[index]], timestamps: [rows.timestamps[index]], categories: [rows.categories[index]])
            )
            #expect(TestSupport.doubles(joined[0])[index] == TestSupport.doubles(alone[0])[0])
            #expect(TestSupport.bools(joined[1])[index] == TestSupport.bools(alone[1])[0])
        }
    }

    @Test("input order does not matter and extra inputs are ignored")
    func inputOrder() throws {
        var inputs = try TestSupport.inputs(amounts: [42.5], timestamps: ["2026-03-14T18:00:00Z"], categories: ["grocery"])
        inputs.reverse()
        inputs.append(try Tensor(name: "note", shape: [1], strings: ["ignored"]))
        let outputs = try detector.infer(inputs)
        let expected = try TestSupport.score(detector, amount: 42.5, timestamp: "2026-03-14T18:00:00Z", category: "grocery")
        #expect(TestSupport.doubles(outputs[0]) == [expected.score])
    }

    // MARK: Invalid inputs

    struct InvalidCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let inputs: @Sendable () throws -> [Tensor]
        /// Fragments the error message must contain.
        let fragments: [String]
    }

    static let valid = (
        amounts: [42.5, 60.0, 12.0],
        timestamps: ["2026-03-14T18:00:00Z", "2026-03-14T19:00:00+01:00", "2026-03-14T08:00:00Z"],
        categories: ["grocery", "restaurant", "fuel"]
    )

    static func replacing(_ name: String, with tensor: Tensor) throws -> [Tensor] {
        try TestSupport.inputs(amounts: valid.amounts, timestamps: valid.timestamps, categories: valid.categories)
            .map { $0.name == name ? tensor : $0 }
    }

    static func amounts(_ amounts: [Double]) -> @Sendable () throws -> [Tensor] {
        { try replacing("amount", with: TestSupport.amountTensor(amounts)) }
    }

    static func timestamps(_ timestamps: [String]) -> @Sendable () throws -> [Tensor] {
        { try replacing("timestamp", with: Tensor(name: "timestamp", shape: [timestamps.count], strings: timestamps)) }
    }

    static let invalidCases: [InvalidCase] = [
        InvalidCase(testDescription: "zero amount", inputs: amounts([42.5, 0, 12]), fragments: ["\"amount\"", "element 1"]),
        InvalidCase(testDescription: "negative amount", inputs: amounts([42.5, 60, -12]), fragments: ["\"amount\"", "element 2"]),
        InvalidCase(testDescription: "NaN amount", inputs: amounts([.nan, 60, 12]), fragments: ["\"amount\"", "element 0"]),
        InvalidCase(testDescription: "infinite amount", inputs: amounts([42.5, .infinity, 12]), fragments: ["\"amount\"", "element 1"]),
        InvalidCase(
            testDescription: "malformed timestamp",
            inputs: timestamps(["2026-03-14T18:00:00Z", "2026-03-14T19:00:00+01:00", "2026-03-14 08:00:00Z"]),
            fragments: ["\"timestamp\"", "element 2", "2026-03-14 08:00:00Z"]
        ),
        InvalidCase(
            testDescription: "timestamp month 13",
            inputs: timestamps(["2026-13-14T18:00:00Z", "2026-03-14T19:00:00+01:00", "2026-03-14T08:00:00Z"]),
            fragments: ["\"timestamp\"", "element 0", "month 13"]
        ),
        InvalidCase(
            testDescription: "timestamp not UTF-8",
            inputs: {
                try replacing(
                    "timestamp",
                    with: Tensor(name: "timestamp", shape: [3], byteElements: [Array("2026-03-14T18:00:00Z".utf8), [0xFF, 0xFE], []])
                )
            },
            fragments: ["\"timestamp\"", "element 1", "UTF-8"]
        ),
        InvalidCase(
            testDescription: "merchant category not UTF-8",
            inputs: {
                try replacing(
                    "merchant_category",
                    with: Tensor(name: "merchant_category", shape: [3], byteElements: [Array("grocery".utf8), Array("fuel".utf8), [0xC3, 0x28]])
                )
            },
            fragments: ["\"merchant_category\"", "element 2", "UTF-8"]
        ),
        InvalidCase(
            testDescription: "mismatched element counts",
            inputs: amounts([42.5, 60]),
            fragments: ["\"amount\" (2 elements)", "\"timestamp\" (3)", "\"merchant_category\" (3)"]
        ),
        InvalidCase(
            testDescription: "missing amount",
            inputs: { try replacing("amount", with: TestSupport.amountTensor([1], name: "amounts")) },
            fragments: ["\"amount\" is missing"]
        ),
        InvalidCase(
            testDescription: "missing timestamp",
            inputs: { try Array(replacing("amount", with: TestSupport.amountTensor(valid.amounts)).filter { $0.name != "timestamp" }) },
            fragments: ["\"timestamp\" is missing"]
        ),
        InvalidCase(
            testDescription: "missing merchant category",
            inputs: { try Array(replacing("amount", with: TestSupport.amountTensor(valid.amounts)).dropLast()) },
            fragments: ["\"merchant_category\" is missing"]
        ),
        InvalidCase(
            testDescription: "amount as FP32",
            inputs: { try replacing("amount", with: Tensor(name: "amount", datatype: .fp32, shape: [3], data: Array(repeating: 0x42, count: 12))) },
            fragments: ["\"amount\"", "FP64", "FP32"]
        ),
        InvalidCase(
            testDescription: "merchant category as INT64",
            inputs: { try replacing("merchant_category", with: Tensor(name: "merchant_category", datatype: .int64, shape: [3], data: Array(repeating: 1, count: 24))) },
            fragments: ["\"merchant_category\"", "BYTES", "INT64"]
        ),
        InvalidCase(
            testDescription: "timestamp of rank 2",
            inputs: { try replacing("timestamp", with: Tensor(name: "timestamp", shape: [3, 1], strings: valid.timestamps)) },
            fragments: ["\"timestamp\"", "[3, 1]"]
        ),
        InvalidCase(
            testDescription: "amount given twice",
            inputs: { try replacing("amount", with: TestSupport.amountTensor(valid.amounts)) + [TestSupport.amountTensor(valid.amounts)] },
            fragments: ["\"amount\"", "2 times"]
        ),
    ]

    @Test("invalid inputs are rejected as the caller's fault, naming the input", arguments: invalidCases)
    func invalidInput(_ invalid: InvalidCase) throws {
        let inputs = try invalid.inputs()
        let error = #expect(throws: PluginError.self) { try detector.infer(inputs) }
        #expect(error?.kind == .invalidInput)
        for fragment in invalid.fragments {
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "no error") lacks \(fragment)")
        }
    }

    // MARK: Creation

    @Test("a missing artifact fails creation, naming the file")
    func missingArtifact() throws {
        let error = #expect(throws: PluginError.self) {
            try TestSupport.makeDetector(configuration: #"{"model": "no-such-model.json"}"#)
        }
        #expect(error?.message.contains("no-such-model.json") == true)
        #expect(error?.message.contains("does not exist") == true)
    }

    @Test("a corrupt artifact fails creation, naming the file and the problem", arguments: [
        ("{ not json", "not valid JSON"),
        (#"{"formatVersion": 1}"#, "lacks scoring"),
    ])
    func corruptArtifact(contents: String, problem: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("anomaly-detector-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(contents.utf8).write(to: directory.appendingPathComponent("broken.json"))

        let context = PluginContext(configuration: Data(#"{"model": "broken.json"}"#.utf8), bundleDirectory: directory)
        let error = #expect(throws: PluginError.self) { try AnomalyDetector(context: context) }
        #expect(error?.message.contains("broken.json") == true)
        #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
    }

    @Test("the configuration names a path inside the bundle and nothing else", arguments: [
        #"{"model": "../artifacts/anomaly-model.json"}"#,
        #"{"model": "/etc/passwd"}"#,
        #"{"model": ""}"#,
        #"{"model": "anomaly-model.json", "threshold": 2}"#,
        #"{"model": 3}"#,
        #"[]"#,
    ])
    func invalidConfiguration(configuration: String) throws {
        #expect(throws: PluginError.self) { try TestSupport.makeDetector(configuration: configuration) }
    }

    @Test("the model path defaults to anomaly-model.json")
    func defaultConfiguration() throws {
        let detector = try TestSupport.makeDetector(configuration: "{}")
        #expect(detector.model.threshold == self.detector.model.threshold)
    }
}
