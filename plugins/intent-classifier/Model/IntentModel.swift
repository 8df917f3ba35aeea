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
/// A model with a ``fallbackIntent`` (1.1.0's `out_of_scope`) answers it for a query none of whose
/// features is in the vocabulary — gibberish, an empty query, words it never saw — with the
/// softmax probability of its log prior among the log priors: the model has no evidence, so its
/// belief is the prior. A model without one scores such a query by its priors alone, as 1.0.0 does.
///
/// Two artifact formats are read (see `IntentModel+Artifact.swift`): version 1 stores float log
/// likelihoods, version 2 stores them quantized to 8 bits and is dequantized here, at load. Either
/// way every feature gets one row of log likelihoods across all intents, so scoring costs one
/// dictionary lookup per feature.
struct IntentModel: Sendable {
    /// The intents, in the artifact's order.
    let intents: [String]
    /// The log prior of each intent.
    let logPriors: [Double]
    /// Feature → the log likelihood of the feature under each intent.
    let logLikelihoods: [String: [Double]]
    /// The index in ``intents`` of the intent a query with no known feature gets, if the model has one.
    let fallbackIndex: Int?

    /// One prediction: the most likely intent and its probability.
    struct Prediction: Sendable, Hashable {
        /// The predicted intent.
        var intent: String
        /// The softmax probability of ``intent``, in (0, 1].
        var confidence: Double
    }

    /// The intent a query with no feature in the vocabulary gets, if the model has one.
    var fallbackIntent: String? {
        fallbackIndex.map { intents[$0] }
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
            try self.init(artifact: data)
        } catch let error as ArtifactError {
            throw PluginError(.internal, "intent model \"\(url.path)\" is invalid: \(error.message)")
        } catch {
            throw PluginError(.internal, "intent model \"\(url.path)\" is not a valid model artifact: \(error)")
        }
    }

    /// A model from validated parts.
    init(intents: [String], logPriors: [Double], logLikelihoods: [String: [Double]], fallbackIndex: Int?) {
        self.intents = intents
        self.logPriors = logPriors
        self.logLikelihoods = logLikelihoods
        self.fallbackIndex = fallbackIndex
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
    /// - Returns: The first intent with the highest score, or the ``fallbackIntent`` when no
    ///   feature is known, and its softmax probability, computed with log-sum-exp so that no score
    ///   overflows or underflows.
    func predict(utf8: some Collection<UInt8>) -> Prediction {
        let features = IntentTokenizer.features(in: utf8)
        let scores = scores(for: features)
        var best = 0
        for index in scores.indices.dropFirst() where scores[index] > scores[best] {
            best = index
        }
        let top = scores[best]
        if let fallbackIndex, !features.contains(where: { logLikelihoods[$0] != nil }) {
            best = fallbackIndex
        }
        let logSumExp = top + log(scores.reduce(0) { $0 + exp($1 - top) })
        return Prediction(intent: intents[best], confidence: exp(scores[best] - logSumExp))
    }
}
