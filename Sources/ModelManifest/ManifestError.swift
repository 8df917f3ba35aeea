import ModelHostCore

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
        let problem = DecodingProblem(decodingError)
        self.init(file: file, path: problem.path, message: problem.message)
    }
}
