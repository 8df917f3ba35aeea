import ModelHostCore

/// A tensor a model declares: its name, datatype and shape, and for inputs whether it is required
/// and what values it accepts.
public struct TensorSpec: Sendable, Hashable, Decodable {
    /// The tensor's name.
    public var name: String
    /// The element datatype.
    public var datatype: Datatype
    /// The dimensions; `-1` marks a variable dimension.
    public var shape: [Int]
    /// Whether a request must carry this input. Default `true`; ignored for outputs.
    public var isRequired: Bool
    /// Rules for the input's values. Default: none beyond the datatype's own.
    public var constraints: InputConstraints

    /// Creates a specification.
    public init(name: String, datatype: Datatype, shape: [Int], isRequired: Bool = true, constraints: InputConstraints = .init()) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.isRequired = isRequired
        self.constraints = constraints
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, datatype, shape, required, constraints
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        guard !name.isEmpty, name.utf8.count <= 128, !name.utf8.contains(0) else {
            throw container.invalid(.name, "must be 1 to 128 bytes with no NUL")
        }
        let spelling = try container.decode(String.self, forKey: .datatype)
        guard let datatype = Datatype(rawValue: spelling) else {
            let allowed = Datatype.allCases.map(\.rawValue).joined(separator: ", ")
            throw container.invalid(.datatype, "\"\(spelling)\" is not a supported datatype (one of \(allowed))")
        }
        self.datatype = datatype
        shape = try container.decode([Int].self, forKey: .shape)
        guard shape.allSatisfy({ $0 == -1 || $0 >= 1 }) else {
            throw container.invalid(.shape, "dimensions must be -1 (variable) or >= 1")
        }
        isRequired = try container.decode(.required, default: true)
        constraints = try container.decode(.constraints, default: InputConstraints())
        if let problem = constraints.problem(for: datatype) {
            throw container.invalid(.constraints, problem)
        }
    }

    /// Whether `shape` fits this specification: same rank, and every fixed dimension equal.
    public func accepts(shape candidate: [Int]) -> Bool {
        candidate.count == shape.count && zip(shape, candidate).allSatisfy { $0 == -1 || $0 == $1 }
    }
}
