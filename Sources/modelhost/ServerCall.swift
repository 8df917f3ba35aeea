import Foundation
import NIOHTTP1

/// One command's calls to a server: the client with the key found in a key file or the
/// environment, every way a call can fail turned into one clear line and an exit status, and the
/// answer decoded.
struct ServerCall: Sendable {
    /// The client.
    let client: AdminClient
    /// Where the key was looked for.
    let keys: KeySource
    /// Where the key came from, for messages: the variable's name, or the key file's path;
    /// `nil` when there was none and requests carry no key.
    let keyOrigin: String?
    /// Whether the key came from a key file rather than a variable.
    let isFromKeyFile: Bool

    /// A call to `server` with the key in `keyFile`, else the key from `keys`, if one is set.
    ///
    /// - Throws: ``CommandFailure`` when the key file or a key variable is unusable.
    init(server: ServerURL, keys: KeySource, keyFile: String? = nil) throws(CommandFailure) {
        let found: (key: String, origin: String)?
        if let keyFile {
            found = (try KeySource.key(fromFile: keyFile), keyFile)
        } else {
            found = try keys.key().map { ($0.key, $0.variable) }
        }
        client = AdminClient(configuration: AdminClient.Configuration(server: server, key: found?.key))
        self.keys = keys
        keyOrigin = found?.origin
        isFromKeyFile = keyFile != nil
    }

    /// Sends a request and decodes a successful answer as `Answer`.
    ///
    /// - Parameters:
    ///   - method: The method.
    ///   - path: The route, starting with `/`.
    ///   - body: A JSON body, if any.
    /// - Returns: The decoded answer.
    /// - Throws: ``CommandFailure``: the server's message and code for an error response, which
    ///   URL could not be reached, or what was wrong with the answer.
    func send<Answer: Decodable>(_ method: HTTPMethod, _ path: String, json body: [UInt8]? = nil, as _: Answer.Type) async throws(CommandFailure) -> Answer {
        try decode(try await send(method, path, json: body), as: Answer.self)
    }

    /// Sends a request and returns a successful answer's body as it is.
    ///
    /// - Throws: ``CommandFailure`` as ``send(_:_:json:as:)`` does; for an error response, it
    ///   carries the server's body in ``CommandFailure/answer``.
    func send(_ method: HTTPMethod, _ path: String, json body: [UInt8]? = nil) async throws(CommandFailure) -> [UInt8] {
        let response: AdminClient.Response
        do {
            response = try await client.send(method, path, json: body)
        } catch {
            throw CommandFailure(error.code == .invalidResponse ? .badAnswer : .unreachable, error.message)
        }
        guard (200..<300).contains(response.status.code) else {
            var failure = failure(for: response)
            if response.serverError != nil { failure.answer = response.body }
            throw failure
        }
        return response.body
    }

    /// Decodes a successful answer's body as `Answer`.
    ///
    /// - Throws: ``CommandFailure`` with ``CommandFailure/Status/badAnswer`` when it is not one.
    func decode<Answer: Decodable>(_ body: [UInt8], as _: Answer.Type) throws(CommandFailure) -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(body))
        } catch {
            throw CommandFailure(.badAnswer, "\(client.configuration.server) answered with a body this command does not understand (is it a ModelHost server?)")
        }
    }

    /// The failure an error response stands for.
    private func failure(for response: AdminClient.Response) -> CommandFailure {
        let server = client.configuration.server
        let status = response.status
        guard let error = response.serverError else {
            return CommandFailure(.badAnswer, "\(server) answered \(status.code) \(status.reasonPhrase) without a ModelHost error body (is it a ModelHost server?)")
        }
        let said = "\(error.error) (\(error.code))"
        switch status {
        case .unauthorized:
            guard let keyOrigin else {
                return CommandFailure(
                    .unauthorized,
                    "the server requires \(keys.scope == "admin" ? "an admin key" : "an API key"): set \(keys.variables.joined(separator: " or ")), or give --key-file"
                )
            }
            return CommandFailure(.unauthorized, "the server refused the key in \(keyOrigin): \(said)")
        case .forbidden:
            // A fallback variable's key (an admin key reading /health) may lack the scope the first one names.
            let hint = isFromKeyFile ? "" : keyOrigin.flatMap { $0 == keys.variables.first ? nil : keys.variables.first }
                .map { "; set \($0) to a key with the \(keys.scope) scope" } ?? ""
            return CommandFailure(.unauthorized, "the key in \(keyOrigin ?? "the environment") is not allowed to do this: \(said)\(hint)")
        default:
            return CommandFailure(.refused, "\(server) answered \(status.code): \(said)")
        }
    }
}
