import ModelHostCore

/// A request the host runs once before a version is ready, to prove the model answers.
public struct WarmupSample: Sendable, Hashable, Decodable {
    /// The sample's input tensors.
    public var inputs: [Tensor]

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case inputs
    }

    private struct Input: Decodable {
        var tensor: Tensor

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, datatype, shape, data
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            let name = try container.decode(String.self, forKey: .name)
            let spelling = try container.decode(String.self, forKey: .datatype)
            guard let datatype = Datatype(rawValue: spelling) else {
                throw container.invalid(.datatype, "\"\(spelling)\" is not a supported datatype")
            }
            let shape = try container.decode([Int].self, forKey: .shape)
            let data = try container.decode(JSONValue.self, forKey: .data)
            do {
                tensor = try Tensor(name: name, datatype: datatype, shape: shape, json: data)
            } catch {
                throw container.invalid(.data, error.message)
            }
        }
    }

    /// Creates a sample.
    public init(inputs: [Tensor]) {
        self.inputs = inputs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        inputs = try container.decode([Input].self, forKey: .inputs).map(\.tensor)
        guard !inputs.isEmpty else { throw container.invalid(.inputs, "must hold at least one input") }
    }
}
