/// A coding key for any string or index, used to see every key an object holds.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

extension Decoder {
    /// A keyed container that refuses any key `Keys` does not name, so a misspelt setting is an
    /// error rather than a silently ignored default.
    func strictContainer<Keys: CodingKey & CaseIterable>(keyedBy type: Keys.Type) throws -> KeyedDecodingContainer<Keys> {
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
    func decode<Value: Decodable>(_ key: Key, default fallback: Value) throws -> Value {
        try decodeIfPresent(Value.self, forKey: key) ?? fallback
    }

    /// An error for an impossible value at `key`, with the path to it.
    func invalid(_ key: Key, _ message: String) -> DecodingError {
        DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: message))
    }

    /// Decodes an integer at `key` that must lie in `range`.
    func decode(_ key: Key, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        let value = try decode(key, default: fallback)
        guard range.contains(value) else { throw invalid(key, Self.describe(range)) }
        return value
    }

    /// Decodes a number at `key` that must lie in `range`.
    func decode(_ key: Key, default fallback: Double, in range: ClosedRange<Double>) throws -> Double {
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
    var jsonPath: String {
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
