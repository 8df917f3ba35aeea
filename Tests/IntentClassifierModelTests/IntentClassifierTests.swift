import Foundation
import PluginKit
import Testing

@testable import IntentClassifierModel

/// The plugin, built from the real artifacts and the real manifests' config: every release must
/// answer these the same way.
struct IntentClassifierTests {
    static let inScopeExamples = [
        ("What is my balance?", "check_balance"),
        ("I lost my card", "card_lost_or_stolen"),
        ("freeze my card please", "freeze_card"),
        ("Send 20 dollars to my brother", "transfer_money"),
        ("where is the closest ATM?", "atm_locator"),
        ("I want to speak to a human", "speak_to_agent"),
        ("I need to update my email address", "update_contact_details"),
        ("I don't recognise this payment on my statement", "dispute_charge"),
        ("what are the interest rates on personal loans", "loan_information"),
        ("close my account", "close_account"),
        ("open a new savings account", "open_account"),
        ("show me my recent transactions", "recent_transactions"),
    ]

    @Test(arguments: Release.allCases, inScopeExamples)
    func classifiesQueries(release: Release, example: (query: String, intent: String)) throws {
        let (intents, confidences) = try Fixture.classify([example.query], shape: [1], release: release)
        #expect(intents == [example.intent])
        #expect(confidences.count == 1)
        #expect(try #require(confidences.first) > 0.9)
    }

    @Test(arguments: Release.allCases, [[3], [1, 3], [3, 1]])
    func batchOutputsHaveTheInputShape(release: Release, shape: [Int]) throws {
        let query = try Tensor(name: "query", shape: shape, strings: ["What is my balance?", "I lost my card", "talk to an agent"])
        let outputs = try Fixture.makeClassifier(release).infer([query])
        #expect(outputs.map(\.name) == ["intent", "confidence"])
        #expect(outputs.map(\.datatype) == [.bytes, .fp32])
        #expect(outputs.map(\.shape) == [shape, shape])
        #expect(outputs[0].byteElements.map { String(decoding: $0, as: UTF8.self) } == ["check_balance", "card_lost_or_stolen", "speak_to_agent"])
    }

    @Test(arguments: Release.allCases)
    func joinedRequestsAreAnsweredRowForRowAsEachAlone(release: Release) throws {
        #expect(IntentClassifier.supportsBatching)
        let queries = ["What is my balance?", "I lost my card", "where is the closest ATM?", "talk to an agent", "asdf qwer"]
        let (intents, confidences) = try Fixture.classify(queries, release: release)
        for (index, query) in queries.enumerated() {
            let (intent, confidence) = try Fixture.classify([query], release: release)
            #expect(intents[index] == intent[0])
            #expect(confidences[index] == confidence[0])
        }
    }

    @Test(arguments: Release.allCases)
    func confidencesAreProbabilities(release: Release) throws {
        let queries = ["What is my balance?", "bank", "", "zzz qqq", "!!!", "close my card account and send money to an agent"]
        let (_, confidences) = try Fixture.classify(queries, release: release)
        #expect(confidences.count == queries.count)
        for confidence in confidences {
            #expect(confidence > 0 && confidence <= 1)
        }
    }

    @Test func emptyBatchGivesEmptyOutputs() throws {
        let outputs = try Fixture.makeClassifier().infer([Tensor(name: "query", shape: [0], strings: [])])
        #expect(outputs.map(\.shape) == [[0], [0]])
        #expect(outputs.allSatisfy { $0.data.isEmpty })
    }

    @Test func otherInputsAreIgnored() throws {
        let inputs = [
            try Tensor(name: "extra", datatype: .fp32, shape: [1], data: [0, 0, 0, 0]),
            try Tensor(name: "query", shape: [1], strings: ["What is my balance?"]),
        ]
        #expect(try Fixture.makeClassifier().infer(inputs)[0].byteElements.map { Array($0) } == [Array("check_balance".utf8)])
    }

    // MARK: Invalid input

    @Test func invalidUTF8IsInvalidInput() throws {
        let query = try Tensor(name: "query", shape: [2], byteElements: [Array("What is my balance?".utf8), [0x6F, 0x6B, 0xFF, 0xFE]])
        let classifier = try Fixture.makeClassifier()
        let error = #expect(throws: PluginError.self) { try classifier.infer([query]) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message == "input \"query\" element 1 is not valid UTF-8")
    }

    @Test func missingQueryIsInvalidInput() throws {
        let other = try Tensor(name: "text", shape: [1], strings: ["What is my balance?"])
        let classifier = try Fixture.makeClassifier()
        let error = #expect(throws: PluginError.self) { try classifier.infer([other]) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.contains("\"query\"") == true)
    }

    @Test func wrongDatatypeIsInvalidInput() throws {
        let query = try Tensor(name: "query", datatype: .fp32, shape: [1], data: [0, 0, 0x80, 0x3F])
        let classifier = try Fixture.makeClassifier()
        let error = #expect(throws: PluginError.self) { try classifier.infer([query]) }
        #expect(error?.kind == .invalidInput)
        #expect(error?.message.contains("FP32") == true)
    }

    // MARK: Loading

    @Test func missingArtifactIsNamed() throws {
        let context = PluginContext(configuration: Data(#"{"model":"no-such-model.json"}"#.utf8), bundleDirectory: Fixture.artifacts)
        let error = #expect(throws: PluginError.self) { try IntentClassifier(context: context) }
        #expect(error?.message.contains("no-such-model.json") == true)
    }

    @Test(arguments: [
        "{not json",
        #"{"format":"something-else","formatVersion":1}"#,
        #"{"format":"modelhost.intent-naive-bayes","formatVersion":1,"tokenizer":"modelhost.intent-tokenizer.v1","intents":["a","b"],"logPriors":[-0.7],"unseenLogLikelihoods":[-5,-5],"logLikelihoods":[{},{}]}"#,
    ])
    func corruptArtifactIsNamed(contents: String) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("intent-classifier-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(contents.utf8).write(to: directory.appendingPathComponent("broken-model.json"))
        let context = PluginContext(configuration: Data(#"{"model":"broken-model.json"}"#.utf8), bundleDirectory: directory)
        let error = #expect(throws: PluginError.self) { try IntentClassifier(context: context) }
        #expect(error?.message.contains("broken-model.json") == true)
    }

    @Test(arguments: ["../artifacts/intent-model.json", "/etc/passwd", "", "./intent-model.json"])
    func modelPathMustStayInTheBundle(path: String) throws {
        let configuration = try JSONSerialization.data(withJSONObject: ["model": path])
        let context = PluginContext(configuration: configuration, bundleDirectory: Fixture.artifacts)
        #expect(throws: PluginError.self) { try IntentClassifier(context: context) }
    }

    @Test func firstReleaseLoadsTwelveIntents() throws {
        let intents = try Fixture.makeClassifier().model.intents
        #expect(intents.count == 12)
        #expect(intents.contains("card_lost_or_stolen"))
        #expect(try Fixture.makeClassifier().model.fallbackIntent == nil)
    }

    // MARK: Parity with the trainer

    /// The Swift scorer's accuracy on the held-out split is the one the trainer wrote to the manifest.
    @Test(arguments: Release.allCases)
    func heldOutAccuracyMatchesTheManifest(release: Release) throws {
        let examples = try Fixture.heldOut(release)
        try #require(examples.count >= 100)
        let (intents, _) = try Fixture.classify(examples.map(\.text), release: release)
        let correct = zip(intents, examples).filter { $0.0 == $0.1.intent }.count
        let accuracy = Double(correct) / Double(examples.count)
        let recorded = try Fixture.recordedMetric("heldOutAccuracy", of: release)
        #expect(abs(accuracy - recorded) <= 0.0001, "Swift: \(accuracy), manifest: \(recorded)")
    }

    /// The drift baselines the trainer wrote to the manifest's `tracking` are the Swift plugin's
    /// predictions on the held-out split, binned as the host bins them.
    @Test(arguments: Release.allCases)
    func trackingBaselinesAreTheHeldOutPredictions(release: Release) throws {
        let tracking = try #require(try Fixture.manifest(release)["tracking"] as? [String: Any])
        let outputs = try #require(tracking["outputs"] as? [[String: Any]])
        try #require(outputs.count == 2)
        let classes = try #require(outputs[0]["classes"] as? [String])
        #expect(outputs[0]["name"] as? String == "intent")
        #expect(classes == (try Fixture.makeClassifier(release).model.intents))
        #expect(outputs[1]["name"] as? String == "confidence")
        let bounds = try #require(outputs[1]["bounds"] as? [Double])

        let examples = try Fixture.heldOut(release)
        let (intents, confidences) = try Fixture.classify(examples.map(\.text), release: release)
        let total = Double(examples.count)
        let intentShares = classes.map { name in Double(intents.filter { $0 == name }.count) / total }
        var confidenceBins = [Double](repeating: 0, count: bounds.count + 1)
        for confidence in confidences {
            confidenceBins[bounds.firstIndex { Double(confidence) <= $0 } ?? bounds.count] += 1 / total
        }
        for (output, shares) in zip(outputs, [intentShares, confidenceBins]) {
            let baseline = try #require(output["baseline"] as? [Double])
            try #require(baseline.count == shares.count)
            for (recorded, share) in zip(baseline, shares) {
                #expect(abs(recorded - share) <= 0.00005 + 1e-12, "\(output["name"] ?? ""): manifest \(baseline), Swift \(shares)")
            }
        }
    }
}
