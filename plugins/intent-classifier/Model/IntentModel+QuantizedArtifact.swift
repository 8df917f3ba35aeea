import Foundation

/// Format version 2: log likelihoods quantized to 8 bits, dequantized at load.
///
/// ```json
/// "quantization": {"bits": 8, "scheme": "..."},
/// "vocabulary": ["07700", "a", "a bank", ...],
/// "quantizedLogLikelihoods": [
///   {"scale": 0.0107, "zeroPoint": 500, "featureIndices": "<base64>", "codes": "<base64>"}, ...
/// ]
/// ```
///
/// `vocabulary` is the training vocabulary, each feature once. Each intent, in `intents` order,
/// has a row: `featureIndices` are the little-endian `UInt16` indices into `vocabulary` of the
/// features it had in training, strictly ascending; `codes` their `Int8` codes, one each. A code's
/// log likelihood is `scale * Double(code - zeroPoint)` — the trainer rounds each value to the
/// nearest step of `scale`, so it is within `scale / 2` of the float it stood for. A vocabulary
/// feature an intent does not list counts the intent's `unseenLogLikelihoods` value, a float like
/// the log priors.
extension IntentModel {
    /// Version 2's layout.
    struct QuantizedArtifact: Decodable {
        var tokenizer: String
        var intents: [String]
        var fallbackIntent: String?
        var logPriors: [Double]
        var unseenLogLikelihoods: [Double]
        var quantization: Quantization
        var vocabulary: [String]
        var quantizedLogLikelihoods: [Row]

        struct Quantization: Decodable {
            var bits: Int
        }

        /// One intent's quantized log likelihoods.
        struct Row: Decodable {
            var scale: Double
            var zeroPoint: Int
            var featureIndices: String
            var codes: String
        }
    }

    /// The zero points a row may have: codes minus the zero point must not overflow.
    private static let zeroPoints = -(1 << 30)...(1 << 30)

    init(quantizedArtifact artifact: QuantizedArtifact) throws {
        let common = CommonFields(
            tokenizer: artifact.tokenizer, intents: artifact.intents, fallbackIntent: artifact.fallbackIntent,
            logPriors: artifact.logPriors, unseenLogLikelihoods: artifact.unseenLogLikelihoods
        )
        let fallbackIndex = try Self.validatedCommon(common)
        guard artifact.quantization.bits == 8 else {
            throw ArtifactError(message: "quantization has \(artifact.quantization.bits) bits, this plugin reads 8")
        }
        let vocabulary = artifact.vocabulary
        guard vocabulary.count <= 1 << 16, Set(vocabulary).count == vocabulary.count, !vocabulary.contains("") else {
            throw ArtifactError(message: "the vocabulary must hold at most 65536 unique, non-empty features")
        }
        let count = artifact.intents.count
        guard artifact.quantizedLogLikelihoods.count == count else {
            throw ArtifactError(message: "quantizedLogLikelihoods has \(artifact.quantizedLogLikelihoods.count) entries for \(count) intents")
        }
        var rows = [[Double]](repeating: artifact.unseenLogLikelihoods, count: vocabulary.count)
        for (intent, row) in artifact.quantizedLogLikelihoods.enumerated() {
            for (feature, value) in try Self.dequantized(row, intent: artifact.intents[intent], vocabularyCount: vocabulary.count) {
                rows[feature][intent] = value
            }
        }
        self.init(
            intents: artifact.intents, logPriors: artifact.logPriors,
            logLikelihoods: Dictionary(uniqueKeysWithValues: zip(vocabulary, rows)), fallbackIndex: fallbackIndex
        )
    }

    /// One intent's stored log likelihoods, by vocabulary index.
    private static func dequantized(_ row: QuantizedArtifact.Row, intent: String, vocabularyCount: Int) throws -> [(Int, Double)] {
        guard row.scale.isFinite, row.scale > 0 else {
            throw ArtifactError(message: "\(intent): scale must be positive and finite, not \(row.scale)")
        }
        guard zeroPoints.contains(row.zeroPoint) else {
            throw ArtifactError(message: "\(intent): zeroPoint \(row.zeroPoint) is out of range")
        }
        guard let indexBytes = Data(base64Encoded: row.featureIndices), let codeBytes = Data(base64Encoded: row.codes) else {
            throw ArtifactError(message: "\(intent): featureIndices and codes must be base64")
        }
        guard indexBytes.count == 2 * codeBytes.count else {
            throw ArtifactError(message: "\(intent): \(indexBytes.count) bytes of featureIndices for \(codeBytes.count) codes, expected 2 a code")
        }
        var values: [(Int, Double)] = []
        values.reserveCapacity(codeBytes.count)
        var previous = -1
        for (position, byte) in codeBytes.enumerated() {
            let low = indexBytes[indexBytes.startIndex + 2 * position]
            let high = indexBytes[indexBytes.startIndex + 2 * position + 1]
            let feature = Int(low) | Int(high) << 8
            guard feature > previous, feature < vocabularyCount else {
                throw ArtifactError(message: "\(intent): featureIndices must be ascending indices into the vocabulary")
            }
            previous = feature
            values.append((feature, row.scale * Double(Int(Int8(bitPattern: byte)) - row.zeroPoint)))
        }
        try checkLogProbabilities(values.map(\.1))
        return values
    }
}
