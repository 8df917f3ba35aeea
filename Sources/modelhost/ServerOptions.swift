import ArgumentParser
import Foundation

/// The options of every command that calls a running server.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The server's URL; http:// only (https is not supported).", valueName: "url")
    )
    var server: String = "http://127.0.0.1:\(ServeCommand.defaultPort)"

    @Option(
        name: .customLong("key-file"),
        help: ArgumentHelp(
            "A file holding the key, readable by its owner only (mode 600); instead of the environment variable.",
            valueName: "path"
        )
    )
    var keyFile: String?

    func validate() throws {
        _ = try serverURL()
    }

    /// A call to `server` (``serverURL()``) with the key from `--key-file`, else from `keys`.
    ///
    /// - Throws: ``CommandFailure`` when the key file or variable is unusable.
    func call(to server: ServerURL, keys: KeySource) throws(CommandFailure) -> ServerCall {
        try ServerCall(server: server, keys: keys, keyFile: keyFile)
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
/// set, unless `--key-file` names a file holding it. Keys are never taken from flags, so they stay
/// out of process listings and shell history.
struct KeySource: Sendable {
    /// The variables tried, in order.
    var variables: [String]
    /// What the key must allow, for messages: "admin", "infer".
    var scope: String

    /// The admin key: `MODELHOST_ADMIN_KEY`.
    static let admin = KeySource(variables: ["MODELHOST_ADMIN_KEY"], scope: "admin")
    /// A key that may read metadata: `MODELHOST_API_KEY`, else `MODELHOST_ADMIN_KEY`.
    static let metadata = KeySource(variables: ["MODELHOST_API_KEY", "MODELHOST_ADMIN_KEY"], scope: "infer")

    /// The key in the file at `path`, which must be a regular file readable and writable by its
    /// owner only (as `ssh` requires of a private key), holding the key and nothing else.
    ///
    /// - Throws: ``CommandFailure`` with ``CommandFailure/Status/configuration`` when the file
    ///   cannot be read, is open to group or others, is empty, or holds more than a key.
    static func key(fromFile path: String) throws(CommandFailure) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CommandFailure(.configuration, "cannot read the key file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CommandFailure(.configuration, "the key file \(path) is not a regular file")
        }
        let permissions = info.st_mode & 0o777
        guard permissions & 0o077 == 0 else {
            throw CommandFailure(
                .configuration,
                "the key file \(path) is open to group or others (mode \(String(permissions, radix: 8))); make it readable by its owner only: chmod 600 \(path)"
            )
        }
        guard info.st_size <= 4096, let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(.configuration, "cannot read the key file \(path)" + (info.st_size > 4096 ? ": it is larger than a key file" : ""))
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else {
            throw CommandFailure(.configuration, "the key file \(path) is empty")
        }
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control }) {
            throw CommandFailure(.configuration, "the key file \(path) contains whitespace or control characters; it must hold the key alone")
        }
        return value
    }

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
