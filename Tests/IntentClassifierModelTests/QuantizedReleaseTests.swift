import Foundation
import PluginKit
import Testing

@testable import IntentClassifierModel

/// Release 1.1.0: the `out_of_scope` intent, the rule for queries with no known feature, and the
/// int8 artifact measured against the float model it was quantized from. And 1.0.0 beside it, unchanged.
struct QuantizedReleaseTests {
    @Test func loadsTheQuantizedArtifact() throws {
        let artifact = Release.quantized.artifactsDirectory.appendingPathComponent("intent-model-int8.json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: artifact)) as? [String: Any])
        #expect(json["formatVersion"] as? Int == IntentModel.quantizedFormatVersion)
        let vocabulary = try #require(json["vocabulary"] as? [String])

        let model = try Fixture.makeClassifier(.quantized).model
        #expect(model.intents.count == 13)
        #expect(model.intents.contains("out_of_scope"))
        #expect(Set(try Fixture.makeClassifier(.first).model.intents + ["out_of_scope"]) == Set(model.intents))
        #expect(model.fallbackIntent == "out_of_scope")
        #expect(model.logLikelihoods.count == vocabulary.count)
        #expect(model.logLikelihoods.values.allSatisfy { $0.count == 13 && $0.allSatisfy { $0 < 0 } })
    }

    @Test(arguments: [
        "what is the weather today in Paris",
        "what's the weather like in Lisbon tomorrow",
        "tell me a joke about penguins",
        "who won the tennis yesterday",
        "How do I bake bread?",
    ])
    func outOfScopeQueries(query: String) throws {
        let (intents, confidences) = try Fixture.classify([query], release: .quantized)
        #expect(intents == ["out_of_scope"])
        #expect(try #require(confidences.first) > 0.9)
    }

    /// A query with no feature in the vocabulary is `out_of_scope` with the softmax probability of
    /// its log prior: the model has no evidence, so it answers its prior belief.
    @Test(arguments: ["xkcd plmokn", "gfhdjs ksla", "!!!", "", "Ärger über Öl"])
    func queriesWithNoKnownFeatureAreOutOfScopeAtTheirPrior(query: String) throws {
        let model = try Fixture.makeClassifier(.quantized).model
        try #require(IntentTokenizer.features(in: Array(query.utf8)).allSatisfy { model.logLikelihoods[$0] == nil })
        let prediction = model.predict(utf8: Array(query.utf8))
        #expect(prediction.intent == "out_of_scope")
        let index = try #require(model.intents.firstIndex(of: "out_of_scope"))
        let prior = exp(model.logPriors[index]) / model.logPriors.reduce(0) { $0 + exp($1) }
        #expect(abs(prediction.confidence - prior) < 1e-9)
        #expect(abs(prior - 0.25) < 1e-5, "160 of the 640 training queries are out of scope")
    }

    /// Keyboard mashing the training data has seen is out of scope by evidence, not by the rule.
    @Test(arguments: ["asdf qwer", "asdfghjkl qwertyuiop", "blah blah", "lorem ipsum"])
    func gibberishIsOutOfScope(query: String) throws {
        let (intents, confidences) = try Fixture.classify([query], release: .quantized)
        #expect(intents == ["out_of_scope"])
        #expect(try #require(confidences.first) > 0.5)
    }

    /// 1.0.0 has no fallback: gibberish gets the first intent at the uniform prior, weather is a
    /// balance question. Pinned, so that 1.1.0's changes cannot leak into it.
    @Test func firstReleaseBehavesAsBefore() throws {
        let (intents, confidences) = try Fixture.classify(["asdf qwer", "!!!", "what is the weather today in Paris"], release: .first)
        #expect(intents == ["atm_locator", "atm_locator", "check_balance"])
        #expect(abs(confidences[0] - 1 / 12) < 1e-6)
        #expect(abs(confidences[1] - 1 / 12) < 1e-6)
        #expect(confidences[2] > 0.97)
    }

    // MARK: Held-out figures

    @Test func heldOutAccuracyIsAtLeastTheRecordedFigure() throws {
        let evaluation = try Evaluation(release: .quantized)
        let recorded = try Fixture.recordedMetric("heldOutAccuracy", of: .quantized)
        #expect(evaluation.accuracy >= recorded - 0.0001, "Swift: \(evaluation.accuracy), manifest: \(recorded)")
        #expect(evaluation.rows.count == 160)
    }

    @Test func outOfScopeRecallPrecisionAndInScopeAccuracyAreTheRecordedFigures() throws {
        let evaluation = try Evaluation(release: .quantized)
        let (recall, precision) = evaluation.recallAndPrecision(of: "out_of_scope")
        #expect(abs(recall - (try Fixture.recordedMetric("outOfScopeRecall", of: .quantized))) <= 0.0001)
        #expect(abs(precision - (try Fixture.recordedMetric("outOfScopePrecision", of: .quantized))) <= 0.0001)
        let inScope = evaluation.rows.indices.filter { evaluation.rows[$0].intent != "out_of_scope" }
        let correct = inScope.filter { evaluation.predictions[$0] == evaluation.rows[$0].intent }.count
        #expect(abs(Double(correct) / Double(inScope.count) - (try Fixture.recordedMetric("inScopeAccuracy", of: .quantized))) <= 0.0001)
    }

    /// 1.1.0's held-out split is 1.0.0's plus the held-out out-of-scope queries, so the two
    /// releases' figures compare on the same in-scope queries.
    @Test func heldOutSplitExtendsTheFirstRelease() throws {
        let first = try Fixture.heldOut(.first)
        let second = try Fixture.heldOut(.quantized)
        #expect(Array(second.prefix(first.count)).map(\.text) == first.map(\.text))
        #expect(second.dropFirst(first.count).allSatisfy { $0.intent == "out_of_scope" })
    }

    /// The int8 model answers the held-out queries as the float model it was quantized from did
    /// (the trainer's predictions before quantization, `training/float-reference-1.1.0.json`).
    @Test func quantizedPredictionsAgreeWithTheFloatModel() throws {
        let url = Fixture.training.appendingPathComponent("float-reference-1.1.0.json")
        let reference = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let floatIntents = try #require(reference["intents"] as? [String])
        let floatConfidences = try #require(reference["confidences"] as? [Double])
        let evaluation = try Evaluation(release: .quantized)
        try #require(floatIntents.count == evaluation.rows.count && floatConfidences.count == evaluation.rows.count)

        let agreeing = zip(floatIntents, evaluation.predictions).filter { $0.0 == $0.1 }.count
        #expect(Double(agreeing) / Double(floatIntents.count) >= 0.99, "\(agreeing)/\(floatIntents.count)")
        for (index, confidence) in floatConfidences.enumerated() where floatIntents[index] == evaluation.predictions[index] {
            #expect(abs(Double(evaluation.confidences[index]) - confidence) < 0.02, "\(evaluation.rows[index].text)")
        }
        let floatAccuracy = try #require(reference["heldOutAccuracy"] as? Double)
        #expect(floatAccuracy == (try Fixture.recordedMetric("heldOutAccuracyFloat", of: .quantized)))
    }
}

/// A release's predictions on its held-out split.
private struct Evaluation {
    var rows: [(text: String, intent: String)]
    var predictions: [String]
    var confidences: [Float]

    init(release: Release) throws {
        rows = try Fixture.heldOut(release)
        (predictions, confidences) = try Fixture.classify(rows.map(\.text), release: release)
    }

    var accuracy: Double {
        Double(zip(predictions, rows).filter { $0.0 == $0.1.intent }.count) / Double(rows.count)
    }

    func recallAndPrecision(of intent: String) -> (recall: Double, precision: Double) {
        let actual = rows.indices.filter { rows[$0].intent == intent }
        let predicted = predictions.indices.filter { predictions[$0] == intent }
        let hits = Set(actual).intersection(predicted).count
        return (Double(hits) / Double(max(actual.count, 1)), Double(hits) / Double(max(predicted.count, 1)))
    }
}
