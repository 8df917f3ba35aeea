import Foundation
import PluginKit
import Testing

@testable import IntentClassifierModel

/// The plugin, built from the real artifact and the real manifest's config.
struct IntentClassifierTests {
    @Test(arguments: [
        ("What is my balance?", "check_balance"),
        ("I lost my card", "card_lost_or_stolen"),
        ("freeze my card please", "freeze_card"),
        ("Send 20 dollars to my brother", "transfer_money"),
        ("where is the closest ATM?", "atm_locator"),
        ("I want to speak to a human", "speak_to_agent"),
        ("I need to update my email address", "update_contact_details"),
        ("I don't recognise this payment on my statement", "dispute_charge"),
        ("what are the interest rates on personal loans", "loan_information"),
    ])
    func classifiesQueries(query: String, intent: String) throws {
        let (intents, confidences) = try classify([query], shape: [1])
        #expect(intents == [intent])
        #expect(confidences.count == 1)
    }

    @Test(arguments: [[3], [1, 3], [3, 1]])
    func batchOutputsHaveTheInputShape(shape: [Int]) throws {
        let query = try Tensor(name: "query", shape: shape, strings: ["What is my balance?", "I lost my card", "talk to an agent"])
        let outputs = try Fixture.makeClassifier().infer([query])
        #expect(outputs.map(\.name) == ["intent", "confidence"])
        #expect(outputs.map(\.datatype) == [.bytes, .fp32])
        #expect(outputs.map(\.shape) == [shape, shape])
        #expect(outputs[0].byteElements.map { String(decoding: $0, as: UTF8.self) } == ["check_balance", "card_lost_or_stolen", "speak_to_agent"])
    }

    @Test func joinedRequestsAreAnsweredRowForRowAsEachAlone() throws {
        #expect(IntentClassifier.supportsBatching)
        let queries = ["What is my balance?", "I lost my card", "where is the closest ATM?", "talk to an agent"]
        let (intents, confidences) = try classify(queries, shape: [queries.count])
        for (index, query) in queries.enumerated() {
            let (intent, confidence) = try classify([query], shape: [1])
            #expect(intents[index] == intent[0])
            #expect(confidences[index] == confidence[0])
        }
    }

    @Test func confidencesAreProbabilities() throws {
        let queries = ["What is my balance?", "bank", "", "zzz qqq", "!!!", "close my card account and send money to an agent"]
        let (_, confidences) = try classify(queries, shape: [queries.count])
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

    @Test func loadsTwelveIntents() throws {
        let intents = try Fixture.makeClassifier().model.intents
        #expect(intents.count == 12)
        #expect(intents.contains("card_lost_or_stolen"))
    }

    // MARK: Parity with the trainer

    /// The Swift scorer's accuracy on the held-out split is the one the trainer wrote to the manifest.
    @Test func heldOutAccuracyMatchesTheManifest() throws {
        let text = try String(contentsOf: Fixture.training.appendingPathComponent("heldout.csv"), encoding: .utf8)
        let rows = parseCSV(text)
        #expect(rows.first == ["text", "intent"])
        let examples = rows.dropFirst()
        try #require(examples.count >= 100)
        let (intents, _) = try classify(examples.map { $0[0] }, shape: [examples.count])
        let correct = zip(intents, examples).filter { $0.0 == $0.1[1] }.count
        let accuracy = Double(correct) / Double(examples.count)

        let manifest = try Fixture.manifest()
        let metadata = try #require(manifest["metadata"] as? [String: Any])
        let metrics = try #require(metadata["metrics"] as? [String: Any])
        let recorded = try #require(metrics["heldOutAccuracy"] as? Double)
        #expect(abs(accuracy - recorded) <= 0.0001, "Swift: \(accuracy), manifest: \(recorded)")
    }

    // MARK: Helpers

    private func classify(_ queries: [String], shape: [Int]) throws -> ([String], [Float]) {
        let outputs = try Fixture.makeClassifier().infer([Tensor(name: "query", shape: shape, strings: queries)])
        let intents = try #require(outputs.first { $0.name == "intent" }).byteElements.map { String(decoding: $0, as: UTF8.self) }
        let data = try #require(outputs.first { $0.name == "confidence" }).data
        let confidences = stride(from: 0, to: data.count, by: 4).map { offset in
            Float(bitPattern: UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24)
        }
        return (intents, confidences)
    }

    /// Parses RFC 4180 CSV (quoted fields, doubled quotes, `\n` or `\r\n` line ends).
    private func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var isQuoted = false
        var characters = text.makeIterator()
        var pending = characters.next()
        while let character = pending {
            pending = characters.next()
            if isQuoted {
                if character == "\"" {
                    if pending == "\"" {
                        field.append("\"")
                        pending = characters.next()
                    } else {
                        isQuoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                isQuoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\n" || character == "\r\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}

/// The repository's intent-classifier files and one classifier built from them, shared by the tests.
private enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let artifacts = root.appendingPathComponent("plugins/intent-classifier/artifacts", isDirectory: true)
    static let training = root.appendingPathComponent("plugins/intent-classifier/training", isDirectory: true)

    /// The source manifest, `manifests/intent-classifier.json`.
    static func manifest() throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("manifests/intent-classifier.json"))
        let manifest = try JSONSerialization.jsonObject(with: data)
        return try #require(manifest as? [String: Any])
    }

    /// A classifier built the way the host builds it: the manifest's config and the artifacts directory.
    static func makeClassifier() throws -> IntentClassifier {
        let config = try #require(try manifest()["config"] as? [String: Any])
        let configuration = try JSONSerialization.data(withJSONObject: config)
        return try IntentClassifier(context: PluginContext(configuration: configuration, bundleDirectory: artifacts))
    }
}
