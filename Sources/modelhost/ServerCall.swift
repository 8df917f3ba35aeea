import Foundation
import NIOHTTP1

/// One command's calls to a server: the client with the key found in the environment, every way a
/// call can fail turned into one clear line and an exit status, and the answer decoded.
struct ServerCall: Sendable {
    /// The client.
    let client: AdminClient
    /// Where the key was looked for.
    let keys: KeySource
    /// The variable the key came from; `nil` when none was set and requests carry no key.
    let keyVariable: String?

    /// A call to `server` with the key from `keys`, if one is set.
    ///
    /// - Throws: ``CommandFailure`` when a key variable is unusable.
    init(server: ServerURL, keys: KeySource) throws(CommandFailure) {
        let found = try keys.key()
        client = AdminClient(configuration: AdminClient.Configuration(server: server, key: found?.key))
        self.keys = keys
        keyVariable = found?.variable
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
        let response: AdminClient.Response
        do {
            response = try await client.send(method, path, json: body)
        } catch {
            throw CommandFailure(error.code == .invalidResponse ? .badAnswer : .unreachable, error.message)
        }
        let server = client.configuration.server
        guard (200..<300).contains(response.status.code) else {
            throw failure(for: response)
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw CommandFailure(.badAnswer, "\(server) answered \(response.status.code) with a body this command does not understand (is it a ModelHost server?)")
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
            guard let keyVariable else {
                return CommandFailure(.unauthorized, "the server requires \(keys.scope == "admin" ? "an admin key" : "an API key"): set \(keys.variables.joined(separator: " or "))")
            }
            return CommandFailure(.unauthorized, "the server refused the key in \(keyVariable): \(said)")
        case .forbidden:
            // A fallback variable's key (an admin key reading /health) may lack the scope the first one names.
            let hint = keyVariable.flatMap { $0 == keys.variables.first ? nil : keys.variables.first }
                .map { "; set \($0) to a key with the \(keys.scope) scope" } ?? ""
            return CommandFailure(.unauthorized, "the key in \(keyVariable ?? "the environment") is not allowed to do this: \(said)\(hint)")
        default:
            return CommandFailure(.refused, "\(server) answered \(status.code): \(said)")
        }
    }
}
