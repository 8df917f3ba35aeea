import ModelHostCore
import NIOCore

/// The JSON body of a control route, read strictly: one object holding only the keys the route
/// allows, each of the type it needs. Every refusal is 400 `invalid_request` and shows the body
/// the route takes.
struct ControlBody {
    /// The body's fields.
    private let fields: [String: JSONValue]
    /// The body the route takes, for messages: `{"version": "1.1.0"}`.
    private let shape: String

    /// Reads `body`.
    ///
    /// - Parameters:
    ///   - body: The request body.
    ///   - shape: The body the route takes, as an example, for messages.
    ///   - allowed: The keys the route takes.
    ///   - allowsEmpty: Whether an empty body stands for `{}`: for routes whose keys are all
    ///     optional, so that `curl -X POST` with no body works.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` for a body that is
    ///   not JSON, not an object, or has a key the route does not take.
    init(_ body: ByteBuffer, shape: String, allowed: Set<String>, allowsEmpty: Bool) throws(ModelHostError) {
        self.shape = shape
        if body.readableBytes == 0, allowsEmpty {
            fields = [:]
            return
        }
        let value: JSONValue
        do {
            value = try JSONValueParser.parse(body.readableBytesView)
        } catch {
            throw ModelHostError(.invalidRequest, "the body is not JSON (\(error)); send \(shape)")
        }
        guard case .object(let object) = value else {
            throw ModelHostError(.invalidRequest, "the body must be a JSON object, \(shape), not \(value.kindDescription)")
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            let keys = allowed.isEmpty ? "no keys" : allowed.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw ModelHostError(.invalidRequest, "\"\(unknown)\" is not a key of this route's body (it takes \(keys)): send \(shape)")
        }
        fields = object
    }

    /// The value of `key`, a required non-empty string.
    ///
    /// - Throws: ``ModelHostError`` when it is missing or not a non-empty string.
    func string(_ key: String) throws(ModelHostError) -> String {
        guard let text = try optionalString(key) else {
            throw ModelHostError(.invalidRequest, "the body needs \"\(key)\": send \(shape)")
        }
        return text
    }

    /// The value of `key`, a non-empty string, or `nil` when the body leaves it out.
    ///
    /// - Throws: ``ModelHostError`` when it is present but not a non-empty string.
    func optionalString(_ key: String) throws(ModelHostError) -> String? {
        guard let value = fields[key] else { return nil }
        guard case .string(let text) = value, !text.isEmpty else {
            throw ModelHostError(.invalidRequest, "\"\(key)\" must be a non-empty string, not \(value.kindDescription): send \(shape)")
        }
        return text
    }

    /// The value of `key`, a required number.
    ///
    /// - Throws: ``ModelHostError`` when it is missing or not a number.
    func number(_ key: String) throws(ModelHostError) -> Double {
        guard let value = fields[key] else {
            throw ModelHostError(.invalidRequest, "the body needs \"\(key)\": send \(shape)")
        }
        guard let number = Self.number(value) else {
            throw ModelHostError(.invalidRequest, "\"\(key)\" must be a number, not \(value.kindDescription): send \(shape)")
        }
        return number
    }

    /// The value of `key`, a required object of numbers by name.
    ///
    /// - Throws: ``ModelHostError`` when it is missing, not an object, or holds anything but numbers.
    func numbers(_ key: String) throws(ModelHostError) -> [String: Double] {
        guard let value = fields[key] else {
            throw ModelHostError(.invalidRequest, "the body needs \"\(key)\": send \(shape)")
        }
        guard case .object(let object) = value else {
            throw ModelHostError(.invalidRequest, "\"\(key)\" must be an object of numbers by version, not \(value.kindDescription): send \(shape)")
        }
        var numbers: [String: Double] = [:]
        for (name, entry) in object {
            guard let number = Self.number(entry) else {
                throw ModelHostError(.invalidRequest, "\"\(key)\".\"\(name)\" must be a number, not \(entry.kindDescription): send \(shape)")
            }
            numbers[name] = number
        }
        return numbers
    }

    /// The value of `key`, an optional object, as it is.
    ///
    /// - Throws: ``ModelHostError`` when it is present but not an object.
    func object(_ key: String) throws(ModelHostError) -> [String: JSONValue]? {
        guard let value = fields[key] else { return nil }
        guard case .object(let object) = value else {
            throw ModelHostError(.invalidRequest, "\"\(key)\" must be an object, not \(value.kindDescription): send \(shape)")
        }
        return object
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .integer(let number): Double(number)
        case .unsignedInteger(let number): Double(number)
        case .double(let number): number
        default: nil
        }
    }
}
