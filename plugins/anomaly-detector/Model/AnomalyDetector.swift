import Foundation
import PluginKit

/// Scores card transactions for anomaly: an unusual amount for the merchant category and time of
/// day, or an hour at which the category rarely sees transactions.
///
/// Inputs, a batch of N transactions: `amount` (FP64, `[N]`, positive), `timestamp` (BYTES, `[N]`,
/// ISO-8601 such as `2026-03-14T02:13:00+01:00`; the local hour as written is used) and
/// `merchant_category` (BYTES, `[N]`; a category the model does not know is scored with the global
/// statistics). Outputs: `score` (FP64, `[N]`) and `is_anomaly` (BOOL, `[N]`, score at or above the
/// model's threshold). ``AnomalyModel`` defines the score.
///
/// The model is read once, when the plugin is created, from the bundle file the configuration
/// names; the detector is immutable afterwards, so any number of threads may call ``infer(_:)``.
public struct AnomalyDetector: ModelPlugin {
    /// Each row of the inputs is scored on its own, so requests joined along the first
    /// dimension are answered row for row: the host may batch them.
    public static let supportsBatching = true

    /// The manifest's `config` object. Unknown keys are errors, so that a misspelt one is noticed.
    struct Configuration: Decodable, Sendable {
        /// The model artifact's path relative to the bundle directory; default `anomaly-model.json`.
        var model: String = "anomaly-model.json"

        private struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
            static let model = Key(stringValue: "model")
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            if let key = container.allKeys.first(where: { $0.stringValue != Key.model.stringValue }) {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "unknown key \"\(key.stringValue)\"; the only key is \"model\""
                )
            }
            if let model = try container.decodeIfPresent(String.self, forKey: .model) {
                self.model = model
            }
        }
    }

    /// The output tensors' names.
    enum OutputName {
        /// The anomaly score of each transaction, FP64.
        static let score = "score"
        /// Whether each transaction is anomalous, BOOL.
        static let isAnomaly = "is_anomaly"
    }

    /// The fitted model.
    let model: AnomalyModel

    /// Loads the model artifact the configuration names from the bundle.
    ///
    /// - Parameter context: The manifest's `config` (`{"model": "anomaly-model.json"}`) and the bundle directory.
    /// - Throws: A ``PluginError/Kind/internal`` error for a bad configuration, or naming the
    ///   artifact file when it is missing, unreadable or not a valid model.
    public init(context: PluginContext) throws {
        let configuration = try context.decodeConfiguration(Configuration.self)
        let path = configuration.model
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !components.contains("..") else {
            throw PluginError(.internal, "config: model \(path.debugDescription) must be a path inside the bundle")
        }
        let url = context.artifactURL(path)
        do {
            model = try AnomalyModel(contentsOf: url)
        } catch {
            throw PluginError(.internal, "model artifact \"\(path)\" (\(url.path)) \(error.reason)")
        }
    }

    /// Creates a detector around a model already loaded.
    init(model: AnomalyModel) {
        self.model = model
    }

    /// Scores a batch of transactions.
    ///
    /// - Parameter inputs: `amount`, `timestamp` and `merchant_category`, each of shape `[N]`.
    /// - Returns: `score` (FP64) and `is_anomaly` (BOOL), each of shape `[N]`.
    /// - Throws: A ``PluginError/Kind/invalidInput`` error naming the input, and the element when
    ///   one is at fault, for a missing input, a wrong datatype or shape, differing element counts,
    ///   a non-positive or non-finite amount, a malformed timestamp or a string that is not UTF-8.
    public func infer(_ inputs: [Tensor]) throws -> [Tensor] {
        let batch = try TransactionBatch(decoding: inputs)
        var scoreBytes: [UInt8] = []
        scoreBytes.reserveCapacity(batch.count * 8)
        var flagBytes: [UInt8] = []
        flagBytes.reserveCapacity(batch.count)
        for index in 0..<batch.count {
            let score = model.score(
                amount: batch.amounts[index],
                hour: batch.timestamps[index].hour,
                category: batch.merchantCategories[index]
            )
            withUnsafeBytes(of: score.bitPattern.littleEndian) { scoreBytes.append(contentsOf: $0) }
            flagBytes.append(model.isAnomalous(score: score) ? 1 : 0)
        }
        do {
            return [
                try Tensor(name: OutputName.score, datatype: .fp64, shape: [batch.count], data: scoreBytes),
                try Tensor(name: OutputName.isAnomaly, datatype: .bool, shape: [batch.count], data: flagBytes),
            ]
        } catch {
            throw PluginError(.internal, "building the outputs: \(error)")
        }
    }
}
