import Foundation
import PluginKit

/// The intent-classifier example plugin: names the intent of banking-assistant queries.
///
/// Input `query` is a `BYTES` tensor of UTF-8 queries of any shape; its element count is the batch.
/// Outputs, with the input's shape, are `intent` (`BYTES`, the predicted intent of each query) and
/// `confidence` (`FP32`, the softmax probability of that intent). The model is an
/// ``IntentModel`` artifact in the bundle, named by the manifest's config — the float artifact of
/// 1.0.0 or the int8 one of 1.1.0, which adds the `out_of_scope` intent; the artifact says which:
///
/// ```json
/// "config": { "model": "intent-model.json" }
/// "config": { "model": "intent-model-int8.json" }
/// ```
public struct IntentClassifier: ModelPlugin {
    /// Each row of the inputs is scored on its own, so requests joined along the first
    /// dimension are answered row for row: the host may batch them.
    public static let supportsBatching = true

    /// The manifest's `config` object.
    struct Configuration: Decodable, Sendable {
        /// The model artifact's path, relative to the bundle directory.
        var model: String
    }

    /// The loaded model, immutable and shared by concurrent ``infer(_:)`` calls.
    let model: IntentModel

    /// Loads the model the configuration names from the bundle.
    ///
    /// - Parameter context: The manifest's config (`{"model": "<artifact path>"}`) and the bundle directory.
    /// - Throws: A ``PluginError`` of class `internal` when the config is invalid, or naming the
    ///   artifact when it is missing, unreadable or not a valid model.
    public init(context: PluginContext) throws {
        let configuration = try context.decodeConfiguration(Configuration.self)
        let components = configuration.model.split(separator: "/", omittingEmptySubsequences: false)
        guard !configuration.model.hasPrefix("/"), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else {
            throw PluginError(.internal, "config: model \"\(configuration.model)\" must be a relative path inside the bundle")
        }
        self.model = try IntentModel(contentsOf: context.artifactURL(configuration.model))
    }

    /// Classifies a batch of queries.
    ///
    /// - Parameter inputs: Must include `query`, a `BYTES` tensor of UTF-8 strings; other inputs are ignored.
    /// - Returns: `intent` (`BYTES`) and `confidence` (`FP32`), both with the shape of `query`.
    /// - Throws: A ``PluginError`` of class `invalidInput` when `query` is missing, is not `BYTES`,
    ///   or has an element that is not valid UTF-8.
    public func infer(_ inputs: [Tensor]) throws -> [Tensor] {
        let query = try inputs.named("query")
        guard query.datatype == .bytes else {
            throw PluginError(.invalidInput, "input \"query\" has datatype \(query.datatype.rawValue), expected BYTES")
        }
        var intents: [String] = []
        var confidences: [UInt8] = []
        intents.reserveCapacity(query.elementCount)
        confidences.reserveCapacity(4 * query.elementCount)
        for (index, element) in query.byteElements.enumerated() {
            guard String(validating: element, as: UTF8.self) != nil else {
                throw PluginError(.invalidInput, "input \"query\" element \(index) is not valid UTF-8")
            }
            let prediction = model.predict(utf8: element)
            intents.append(prediction.intent)
            withUnsafeBytes(of: Float(prediction.confidence).bitPattern.littleEndian) { confidences.append(contentsOf: $0) }
        }
        do {
            return [
                try Tensor(name: "intent", shape: query.shape, strings: intents),
                try Tensor(name: "confidence", datatype: .fp32, shape: query.shape, data: confidences),
            ]
        } catch {
            throw PluginError(.internal, "building the outputs: \(error)")
        }
    }
}

