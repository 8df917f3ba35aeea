import ModelHostCore

/// What a model is, for people: the manifest's `metadata`. Every field is optional.
public struct ModelMetadata: Sendable, Hashable, Decodable {
    /// What the model does.
    public var description: String?
    /// Who answers for it.
    public var owner: String?
    /// Where its training data comes from.
    public var trainingData: String?
    /// Evaluation figures by name, such as `heldOutAccuracy`.
    public var metrics: [String: Double]

    /// Creates empty metadata.
    public init(description: String? = nil, owner: String? = nil, trainingData: String? = nil, metrics: [String: Double] = [:]) {
        self.description = description
        self.owner = owner
        self.trainingData = trainingData
        self.metrics = metrics
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case description, owner, trainingData, metrics
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        owner = try container.decodeIfPresent(String.self, forKey: .owner)
        trainingData = try container.decodeIfPresent(String.self, forKey: .trainingData)
        metrics = try container.decode(.metrics, default: [:])
    }
}
