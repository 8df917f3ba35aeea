/// A coding key for any string or index, used to see every key an object holds.
public struct AnyCodingKey: CodingKey {
    /// The key as a string.
    public var stringValue: String
    /// The key as an index, for array elements.
    public var intValue: Int?

    /// Creates a key for an object member.
    public init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    /// Creates a key for an array element.
    public init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// A keyed container that refuses any key `Keys` does not name, so a misspelt setting is an
    /// error rather than a silently ignored default.
    public func strictContainer<Keys: CodingKey & CaseIterable>(keyedBy type: Keys.Type) throws -> KeyedDecodingContainer<Keys> {
        let everything = try container(keyedBy: AnyCodingKey.self)
        let known = Set(Keys.allCases.map(\.stringValue))
        if let unknown = everything.allKeys.first(where: { !known.contains($0.stringValue) }) {
            let allowed = Keys.allCases.map(\.stringValue).joined(separator: ", ")
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath + [unknown], debugDescription: "unknown key (allowed: \(allowed))")
            )
        }
        return try container(keyedBy: type)
    }
}

extension KeyedDecodingContainer {
    /// The value for `key`, or `fallback` when the key is absent.
    public func decode<Value: Decodable>(_ key: Key, default fallback: Value) throws -> Value {
        try decodeIfPresent(Value.self, forKey: key) ?? fallback
    }

    /// An error for an impossible value at `key`, with the path to it.
    public func invalid(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: message))
    }

    /// Decodes an integer at `key` that must lie in `range`.
    public func decode(_ key: Key, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = try decode(key, default: fallback)
        guard range.contains(value) else { throw invalid(key, Self.describe(range)) }
        return value
    }

    /// Decodes a number at `key` that must lie in `range`.
    public func decode(_ key: Key, default fallback: Double, in range: ClosedRange<Double>) throws -> Double {
        let value = try decode(key, default: fallback)
        guard range.contains(value) else { throw invalid(key, Self.describe(range)) }
        return value
    }

    private static func describe<Bound: Comparable>(_ range: ClosedRange<Bound>) -> String {
        "must be between \(range.lowerBound) and \(range.upperBound)"
    }
}

extension [any CodingKey] {
    /// The path in the document, as `inputs[0].constraints.maxLength`.
    public var jsonPath: String {
        var path = ""
        for key in self {
            if let index = key.intValue {
                path += "[\(index)]"
            } else {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path.isEmpty ? "(document)" : path
    }
}

/// A decoding failure as a person reads it: where in the document, and what is wrong there.
public struct DecodingProblem: Sendable, Hashable {
    /// The JSON path of the offending value (`limits.maxConcurrency`), or `(document)`.
    public var path: String
    /// What is wrong.
    public var message: String

    /// Translates a decoding error.
    public init(_ error: DecodingError) {
        switch error {
        case .keyNotFound(let key, let context):
            (path, message) = ((context.codingPath + [key]).jsonPath, "is required")
        case .typeMismatch(let type, let context):
            (path, message) = (context.codingPath.jsonPath, "must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            (path, message) = (context.codingPath.jsonPath, "must be \(Self.describe(type)), not null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, let underlying = context.underlyingError {
                (path, message) = ("(document)", "not valid JSON: \(underlying)")
            } else {
                (path, message) = (context.codingPath.jsonPath, context.debugDescription)
            }
        @unknown default:
            (path, message) = ("(document)", "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        default:
            String(describing: type).hasPrefix("Array") ? "an array"
                : String(describing: type).hasSuffix("Date") ? "a date" : "an object"
        }
    }
}
