import Foundation
import PluginKit
import Testing

@testable import IntentClassifierModel

/// The artifact formats, on hand-made artifacts small enough to check by hand.
struct IntentModelArtifactTests {
    /// Two intents, two features; `a` stored `x` as code 10, `b` stored `y` as code -128.
    static var tinyQuantized: [String: Any] {
        [
            "format": "modelhost.intent-naive-bayes", "formatVersion": 2, "tokenizer": "modelhost.intent-tokenizer.v1",
            "intents": ["a", "b"], "fallbackIntent": "b",
            "logPriors": [log(0.75), log(0.25)], "unseenLogLikelihoods": [-3.0, -4.0],
            "quantization": ["bits": 8, "scheme": "per-intent affine int8"],
            "vocabulary": ["x", "y"],
            "quantizedLogLikelihoods": [
                row(scale: 0.01, zeroPoint: 100, indices: [0], codes: [10]),
                row(scale: 0.02, zeroPoint: 0, indices: [1], codes: [-128]),
            ],
        ]
    }

    static func row(scale: Double, zeroPoint: Int, indices: [UInt16], codes: [Int8]) -> [String: Any] {
        [
            "scale": scale, "zeroPoint": zeroPoint,
            "featureIndices": Data(indices.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }).base64EncodedString(),
            "codes": Data(codes.map { UInt8(bitPattern: $0) }).base64EncodedString(),
        ]
    }

    static func model(_ object: [String: Any]) throws -> IntentModel {
        try IntentModel(artifact: JSONSerialization.data(withJSONObject: object))
    }

    @Test func quantizedLogLikelihoodsAreDequantizedAtLoad() throws {
        let model = try Self.model(Self.tinyQuantized)
        #expect(model.intents == ["a", "b"])
        #expect(model.fallbackIntent == "b")
        #expect(model.logLikelihoods == [
            "x": [0.01 * Double(10 - 100), -4.0],
            "y": [-3.0, 0.02 * Double(-128 - 0)],
        ])
    }

    @Test func theFallbackAnswersOnlyQueriesWithNoKnownFeature() throws {
        let model = try Self.model(Self.tinyQuantized)
        // "x" is evidence for a: the scorer decides, not the rule.
        #expect(model.predict(utf8: Array("x".utf8)).intent == "a")
        // Nothing known: the fallback, at its prior.
        let unknown = model.predict(utf8: Array("zzz".utf8))
        #expect(unknown.intent == "b")
        #expect(abs(unknown.confidence - 0.25) < 1e-12)
        // Without a fallback the priors pick a.
        var object = Self.tinyQuantized
        object["fallbackIntent"] = nil
        let prior = try Self.model(object).predict(utf8: Array("zzz".utf8))
        #expect(prior.intent == "a")
        #expect(abs(prior.confidence - 0.75) < 1e-12)
    }

    @Test func aFloatArtifactMayNameAFallbackToo() throws {
        let object: [String: Any] = [
            "format": "modelhost.intent-naive-bayes", "formatVersion": 1, "tokenizer": "modelhost.intent-tokenizer.v1",
            "intents": ["a", "b"], "fallbackIntent": "b", "logPriors": [log(0.75), log(0.25)], "unseenLogLikelihoods": [-3.0, -4.0],
            "logLikelihoods": [["x": -0.5], [:]],
        ]
        let model = try Self.model(object)
        #expect(model.logLikelihoods == ["x": [-0.5, -4.0]])
        #expect(model.predict(utf8: Array("hello".utf8)).intent == "b")
    }

    enum Corruption: String, CaseIterable, Sendable {
        case unknownVersion, fourBits, unknownFallback, descendingIndices, indexOutsideVocabulary, notBase64
        case indicesForCodesMismatch, zeroScale, hugeZeroPoint, duplicateVocabulary, missingRow, positiveValue

        func apply(to object: inout [String: Any]) {
            var rows = object["quantizedLogLikelihoods"] as! [[String: Any]]
            switch self {
            case .unknownVersion: object["formatVersion"] = 3
            case .fourBits: object["quantization"] = ["bits": 4]
            case .unknownFallback: object["fallbackIntent"] = "c"
            case .descendingIndices: rows[0] = IntentModelArtifactTests.row(scale: 0.01, zeroPoint: 100, indices: [1, 0], codes: [1, 2])
            case .indexOutsideVocabulary: rows[0] = IntentModelArtifactTests.row(scale: 0.01, zeroPoint: 100, indices: [2], codes: [1])
            case .notBase64: rows[0]["codes"] = "not base64!"
            case .indicesForCodesMismatch: rows[0] = IntentModelArtifactTests.row(scale: 0.01, zeroPoint: 100, indices: [0], codes: [1, 2])
            case .zeroScale: rows[0]["scale"] = 0.0
            case .hugeZeroPoint: rows[0]["zeroPoint"] = Int.min
            case .duplicateVocabulary: object["vocabulary"] = ["x", "x"]
            case .missingRow: rows.removeLast()
            case .positiveValue: rows[0] = IntentModelArtifactTests.row(scale: 0.01, zeroPoint: -200, indices: [0], codes: [10])
            }
            object["quantizedLogLikelihoods"] = rows
        }

        var message: String {
            switch self {
            case .unknownVersion: "version 1 or 2"
            case .fourBits: "4 bits"
            case .unknownFallback: "fallbackIntent \"c\""
            case .descendingIndices, .indexOutsideVocabulary: "ascending indices into the vocabulary"
            case .notBase64: "base64"
            case .indicesForCodesMismatch: "2 bytes of featureIndices for 2 codes"
            case .zeroScale: "scale must be positive"
            case .hugeZeroPoint: "zeroPoint"
            case .duplicateVocabulary: "vocabulary"
            case .missingRow: "quantizedLogLikelihoods has 1 entries for 2 intents"
            case .positiveValue: "log probability"
            }
        }
    }

    @Test(arguments: Corruption.allCases)
    func corruptQuantizedArtifactIsRefusedWithItsReason(corruption: Corruption) throws {
        var object = Self.tinyQuantized
        corruption.apply(to: &object)
        let error = #expect(throws: IntentModel.ArtifactError.self) { try Self.model(object) }
        #expect(error?.message.contains(corruption.message) == true, "\(error?.message ?? "")")
    }

    @Test func corruptQuantizedArtifactIsNamedByThePlugin() throws {
        var object = Self.tinyQuantized
        Corruption.zeroScale.apply(to: &object)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("intent-classifier-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try JSONSerialization.data(withJSONObject: object).write(to: directory.appendingPathComponent("broken-int8.json"))
        let context = PluginContext(configuration: Data(#"{"model":"broken-int8.json"}"#.utf8), bundleDirectory: directory)
        let error = #expect(throws: PluginError.self) { try IntentClassifier(context: context) }
        #expect(error?.kind == .internal)
        #expect(error?.message.contains("broken-int8.json") == true)
        #expect(error?.message.contains("scale must be positive") == true)
    }
}
