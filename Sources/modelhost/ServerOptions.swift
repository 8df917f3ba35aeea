import ArgumentParser
import Foundation

/// The options of every command that calls a running server.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The server's URL; http:// only (https is not supported).", valueName: "url")
    )
    var server: String = "http://127.0.0.1:\(ServeCommand.defaultPort)"

    func validate() throws {
        _ = try serverURL()
    }

    /// `--server`, parsed.
    ///
    /// - Throws: `ValidationError` saying what is wrong with it.
    func serverURL() throws -> ServerURL {
        do {
            return try ServerURL(parsing: server)
        } catch {
            throw ValidationError("--server: \(error)")
        }
    }
}

/// Where a command finds the API key it sends: the first of some environment variables that is
/// set. Keys are never taken from flags, so they stay out of process listings and shell history.
struct KeySource: Sendable {
    /// The variables tried, in order.
    var variables: [String]
    /// What the key must allow, for messages: "admin", "infer".
    var scope: String

    /// The admin key: `MODELHOST_ADMIN_KEY`.
    static let admin = KeySource(variables: ["MODELHOST_ADMIN_KEY"], scope: "admin")
    /// A key that may read metadata: `MODELHOST_API_KEY`, else `MODELHOST_ADMIN_KEY`.
    static let metadata = KeySource(variables: ["MODELHOST_API_KEY", "MODELHOST_ADMIN_KEY"], scope: "infer")

    /// The key and the variable it came from, or `nil` when none is set (or all are empty).
    ///
    /// - Throws: ``CommandFailure`` when the variable holds more than one key-like word.
    func key(in environment: [String: String] = ProcessInfo.processInfo.environment) throws(CommandFailure) -> (key: String, variable: String)? {
        for variable in variables {
            guard let value = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { continue }
            // The key goes into a header: no whitespace or control characters, and never echoed.
            if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
                throw CommandFailure(.configuration, "\(variable) contains whitespace or control characters; it must hold the key alone")
            }
            return (value, variable)
        }
        return nil
    }
}
