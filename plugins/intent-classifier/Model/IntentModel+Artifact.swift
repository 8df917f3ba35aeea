import Foundation

/// Reading the artifact: its header names the format version, which picks the layout.
///
/// Every version has `format` (`"modelhost.intent-naive-bayes"`), `formatVersion`, `tokenizer`,
/// `intents`, an optional `fallbackIntent`, `logPriors` and `unseenLogLikelihoods` (one float per
/// intent each). Then:
///
/// - Version 1 (1.0.0): `logLikelihoods`, per intent an object of feature → float log likelihood.
/// - Version 2 (1.1.0): the same log likelihoods quantized to int8 — see `IntentModel+QuantizedArtifact.swift`.
extension IntentModel {
    /// The value of the artifact's `format` key.
    static let format = "modelhost.intent-naive-bayes"
    /// The format version with float log likelihoods.
    static let floatFormatVersion = 1
    /// The format version with log likelihoods quantized to 8 bits.
    static let quantizedFormatVersion = 2

    /// An artifact that decodes but does not describe a usable model.
    struct ArtifactError: Error {
        var message: String
    }

    /// What every format version starts with.
    private struct Header: Decodable {
        var format: String
        var formatVersion: Int
    }

    /// The keys every format version shares, checked by ``validatedCommon(_:)``.
    struct CommonFields {
        var tokenizer: String
        var intents: [String]
        var fallbackIntent: String?
        var logPriors: [Double]
        var unseenLogLikelihoods: [Double]
    }

    /// Version 1's layout.
    private struct FloatArtifact: Decodable {
        var tokenizer: String
        var intents: [String]
        var fallbackIntent: String?
        var logPriors: [Double]
        var unseenLogLikelihoods: [Double]
        var logLikelihoods: [[String: Double]]
    }

    /// Decodes an artifact of either format version.
    ///
    /// - Throws: ``ArtifactError`` when it decodes but describes no usable model, a `DecodingError`
    ///   when it does not decode.
    init(artifact data: Data) throws {
        let header = try JSONDecoder().decode(Header.self, from: data)
        let versions = [Self.floatFormatVersion, Self.quantizedFormatVersion]
        guard header.format == Self.format, versions.contains(header.formatVersion) else {
            throw ArtifactError(
                message: "format is \"\(header.format)\" version \(header.formatVersion), expected \"\(Self.format)\" version \(versions.map(String.init).joined(separator: " or "))"
            )
        }
        if header.formatVersion == Self.floatFormatVersion {
            try self.init(floatArtifact: JSONDecoder().decode(FloatArtifact.self, from: data))
        } else {
            try self.init(quantizedArtifact: JSONDecoder().decode(QuantizedArtifact.self, from: data))
        }
    }

    private init(floatArtifact artifact: FloatArtifact) throws {
        let common = CommonFields(
            tokenizer: artifact.tokenizer, intents: artifact.intents, fallbackIntent: artifact.fallbackIntent,
            logPriors: artifact.logPriors, unseenLogLikelihoods: artifact.unseenLogLikelihoods
        )
        let fallbackIndex = try Self.validatedCommon(common)
        let count = artifact.intents.count
        guard artifact.logLikelihoods.count == count else {
            throw ArtifactError(message: "logLikelihoods has \(artifact.logLikelihoods.count) entries for \(count) intents")
        }
        try Self.checkLogProbabilities(artifact.logLikelihoods.flatMap(\.values))
        var table: [String: [Double]] = [:]
        for (index, likelihoods) in artifact.logLikelihoods.enumerated() {
            for (feature, value) in likelihoods {
                table[feature, default: artifact.unseenLogLikelihoods][index] = value
            }
        }
        self.init(intents: artifact.intents, logPriors: artifact.logPriors, logLikelihoods: table, fallbackIndex: fallbackIndex)
    }

    /// Checks the keys every version shares.
    ///
    /// - Returns: The index of the fallback intent, if the artifact names one.
    static func validatedCommon(_ fields: CommonFields) throws -> Int? {
        guard fields.tokenizer == IntentTokenizer.rule else {
            throw ArtifactError(message: "tokenizer is \"\(fields.tokenizer)\", this plugin implements \"\(IntentTokenizer.rule)\"")
        }
        let count = fields.intents.count
        guard count > 0 else { throw ArtifactError(message: "it has no intents") }
        guard Set(fields.intents).count == count, !fields.intents.contains("") else {
            throw ArtifactError(message: "intent names must be unique and non-empty")
        }
        for (key, values) in [("logPriors", fields.logPriors.count), ("unseenLogLikelihoods", fields.unseenLogLikelihoods.count)]
        where values != count {
            throw ArtifactError(message: "\(key) has \(values) entries for \(count) intents")
        }
        try checkLogProbabilities(fields.logPriors + fields.unseenLogLikelihoods)
        guard let fallback = fields.fallbackIntent else { return nil }
        guard let index = fields.intents.firstIndex(of: fallback) else {
            throw ArtifactError(message: "fallbackIntent \"\(fallback)\" is not one of the intents")
        }
        return index
    }

    /// Checks that every value is a log probability: finite and at most 0.
    static func checkLogProbabilities(_ values: [Double]) throws {
        guard values.allSatisfy({ $0.isFinite && $0 <= 0 }) else {
            throw ArtifactError(message: "a log probability is positive or not finite")
        }
    }
}
