import Foundation
import PluginKit

/// A multinomial naive Bayes intent model, loaded from the artifact `Scripts/train-intent-classifier` writes.
///
/// A query's score for intent *c* is the intent's log prior plus, for each of the query's
/// ``IntentTokenizer`` features in order, the feature's log likelihood for *c*. A feature the
/// training data never had for *c* counts the intent's unseen-feature log likelihood; a feature
/// outside the training vocabulary counts nothing. The prediction is the first intent with the
/// highest score, and its confidence is its softmax probability. Scores are summed in `Double` in
/// the trainer's order, so the plugin reproduces the trainer's predictions exactly.
///
/// At load, every feature gets one row of log likelihoods across all intents, so scoring costs one
/// dictionary lookup per feature.
struct IntentModel: Sendable {
    /// The value of the artifact's `format` key.
    static let format = "modelhost.intent-naive-bayes"
    /// The artifact format version this type reads.
    static let formatVersion = 1

    /// The intents, in the artifact's order.
    let intents: [String]
    /// The log prior of each intent.
    let logPriors: [Double]
    /// Feature → the log likelihood of the feature under each intent.
    let logLikelihoods: [String: [Double]]

    /// One prediction: the most likely intent and its probability.
    struct Prediction: Sendable, Hashable {
        /// The predicted intent.
        var intent: String
        /// The softmax probability of ``intent``, in (0, 1].
        var confidence: Double
    }

    /// Loads a model from its artifact.
    ///
    /// - Parameter url: The artifact's file URL.
    /// - Throws: A ``PluginError`` of class `internal` naming the file, when it cannot be read or
    ///   is not a valid model.
    init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PluginError(.internal, "intent model \"\(url.path)\" cannot be read: \(error.localizedDescription)")
        }
        do {
            try self.init(artifact: JSONDecoder().decode(Artifact.self, from: data))
        } catch let error as ArtifactError {
            throw PluginError(.internal, "intent model \"\(url.path)\" is invalid: \(error.message)")
        } catch {
            throw PluginError(.internal, "intent model \"\(url.path)\" is not a valid model artifact: \(error)")
        }
    }

    /// Scores features against every intent.
    ///
    /// - Parameter features: A query's features, from ``IntentTokenizer/features(in:)``.
    /// - Returns: The log-space score of each intent, in ``intents`` order.
    func scores(for features: [String]) -> [Double] {
        var scores = logPriors
        for feature in features {
            guard let row = logLikelihoods[feature] else { continue }
            for index in scores.indices {
                scores[index] += row[index]
            }
        }
        return scores
    }

    /// Predicts the intent of a query.
    ///
    /// - Parameter utf8: The query's UTF-8 bytes.
    /// - Returns: The first intent with the highest score and its softmax probability, computed
    ///   with log-sum-exp so that no score overflows or underflows.
    func predict(utf8: some Collection<UInt8>) -> Prediction {
        let scores = scores(for: IntentTokenizer.features(in: utf8))
        var best = 0
        for index in scores.indices.dropFirst() where scores[index] > scores[best] {
            best = index
        }
        let top = scores[best]
        let logSumExp = top + log(scores.reduce(0) { $0 + exp($1 - top) })
        return Prediction(intent: intents[best], confidence: exp(top - logSumExp))
    }
}

extension IntentModel {
    /// The artifact's JSON layout.
    private struct Artifact: Decodable {
        var format: String
        var formatVersion: Int
        var tokenizer: String
        var intents: [String]
        var logPriors: [Double]
        var unseenLogLikelihoods: [Double]
        var logLikelihoods: [[String: Double]]
    }

    /// An artifact that decodes but does not describe a usable model.
    private struct ArtifactError: Error {
        var message: String
    }

    private init(artifact: Artifact) throws {
        guard artifact.format == Self.format, artifact.formatVersion == Self.formatVersion else {
            throw ArtifactError(
                message: "format is \"\(artifact.format)\" version \(artifact.formatVersion), expected \"\(Self.format)\" version \(Self.formatVersion)"
            )
        }
        guard artifact.tokenizer == IntentTokenizer.rule else {
            throw ArtifactError(message: "tokenizer is \"\(artifact.tokenizer)\", this plugin implements \"\(IntentTokenizer.rule)\"")
        }
        let count = artifact.intents.count
        guard count > 0 else { throw ArtifactError(message: "it has no intents") }
        guard Set(artifact.intents).count == count, !artifact.intents.contains("") else {
            throw ArtifactError(message: "intent names must be unique and non-empty")
        }
        for (key, values) in [
            ("logPriors", artifact.logPriors.count), ("unseenLogLikelihoods", artifact.unseenLogLikelihoods.count),
            ("logLikelihoods", artifact.logLikelihoods.count),
        ] where values != count {
            throw ArtifactError(message: "\(key) has \(values) entries for \(count) intents")
        }
        let values = artifact.logPriors + artifact.unseenLogLikelihoods + artifact.logLikelihoods.flatMap(\.values)
        guard values.allSatisfy({ $0.isFinite && $0 <= 0 }) else {
            throw ArtifactError(message: "a log probability is positive or not finite")
        }
        var table: [String: [Double]] = [:]
        for (index, likelihoods) in artifact.logLikelihoods.enumerated() {
            for (feature, value) in likelihoods {
                table[feature, default: artifact.unseenLogLikelihoods][index] = value
            }
        }
        self.intents = artifact.intents
        self.logPriors = artifact.logPriors
        self.logLikelihoods = table
    }
}
