/// A manifest that cannot be used: where it is, where in it the problem is, and what it is.
public struct ManifestError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The manifest file's path, as given to the parser.
    public var file: String
    /// The JSON path of the offending value (`limits.maxConcurrency`), or `(document)`.
    public var path: String
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String { "\(file): \(path): \(message)" }

    /// Translates a decoding failure into the path and message a person can act on.
    init(file: String, decodingError: DecodingError) {
        switch decodingError {
        case .keyNotFound(let key, let context):
            self.init(file: file, path: (context.codingPath + [key]).jsonPath, message: "is required")
        case .typeMismatch(let type, let context):
            self.init(file: file, path: context.codingPath.jsonPath, message: "must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            self.init(file: file, path: context.codingPath.jsonPath, message: "must be \(Self.describe(type)), not null")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty, let underlying = context.underlyingError {
                self.init(file: file, path: "(document)", message: "not valid JSON: \(underlying)")
            } else {
                self.init(file: file, path: context.codingPath.jsonPath, message: context.debugDescription)
            }
        @unknown default:
            self.init(file: file, path: "(document)", message: "\(decodingError)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}
