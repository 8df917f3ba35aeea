import Foundation
import NIOHTTP1

/// What the commands that call a server share: finding the key, turning every way a call can
/// fail into one clear line and an exit status, and decoding the answer.
extension AdminClient {
    /// A client for `server` with the key from `keys`, if one is set.
    ///
    /// - Throws: ``CommandFailure`` when a key variable is unusable.
    static func make(server: ServerURL, keys: KeySource) throws(CommandFailure) -> (client: AdminClient, keyVariable: String?) {
        let found = try keys.key()
        return (AdminClient(configuration: Configuration(server: server, key: found?.key)), found?.variable)
    }

    /// Sends a request and decodes a successful answer as `Answer`.
    ///
    /// - Parameters:
    ///   - keys: Where the key came from, for the messages of 401 and 403.
    ///   - keyVariable: The variable the key was read from, `nil` if none was set.
    /// - Throws: ``CommandFailure``: the server's message and code for an error response, which
    ///   URL could not be reached, or what was wrong with the answer.
    func call<Answer: Decodable>(
        _ method: HTTPMethod, _ path: String, json body: [UInt8]? = nil, keys: KeySource, keyVariable: String?, as _: Answer.Type
    ) async throws(CommandFailure) -> Answer {
        let response: Response
        do {
            response = try await send(method, path, json: body)
        } catch {
            throw CommandFailure(error.code == .invalidResponse ? .badAnswer : .unreachable, error.message)
        }
        let server = configuration.server
        guard (200..<300).contains(response.status.code) else {
            throw Self.failure(for: response, from: server, keys: keys, keyVariable: keyVariable)
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw CommandFailure(.badAnswer, "\(server) answered \(response.status.code) with a body this command does not understand (is it a ModelHost server?)")
        }
    }

    /// The failure an error response stands for.
    private static func failure(for response: Response, from server: ServerURL, keys: KeySource, keyVariable: String?) -> CommandFailure {
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
