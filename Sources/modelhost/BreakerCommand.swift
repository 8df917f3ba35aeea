import ArgumentParser
import CircuitBreaker
import Foundation
import NIOHTTP1

/// `modelhost breaker`: force a model version's circuit breaker open, close it, or disable it on a
/// running server.
struct BreakerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker",
        abstract: "Force a model version's circuit breaker open, close it, or disable it on a running server.",
        discussion: """
            forced-open refuses every call to the version (503 unavailable) until it is set again; \
            closed starts the breaker afresh; disabled lets every call through and judges nothing. \
            The admin key is read from the file --key-file names (readable by its owner only), else \
            from the environment variable MODELHOST_ADMIN_KEY, never from a flag, so it stays out of \
            process listings and shell history; without either the request is sent with no key, \
            which only a server run with --insecure-no-auth accepts. Prints the \
            breaker's state after the change. Exit status: 0 done, 1 the server refused (its message \
            and code are printed), 69 the server could not be reached, 76 the answer was not \
            understood, 77 the key is missing or refused, 78 the key file or MODELHOST_ADMIN_KEY is unusable.
            """
    )

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The model version, such as 1.0.0.")
    var version: String

    @Option(name: .long, help: "The breaker's new state.")
    var state: BreakerOverride

    @OptionGroup var serverOptions: ServerOptions

    func validate() throws {
        for (name, value) in [("model", model), ("version", version)] {
            if let failure = Self.pathSegmentFailure(value) { throw ValidationError("\(name) \"\(value)\" \(failure)") }
        }
    }

    func run() async throws {
        let server = try serverOptions.serverURL()
        try await CommandFailure.reporting { () async throws(CommandFailure) in
            let call = try serverOptions.call(to: server, keys: .admin)
            let body = Array(#"{"state":"\#(state.rawValue)"}"#.utf8)
            let report = try await call.send(.POST, "/admin/models/\(model)/versions/\(version)/breaker", json: body, as: Report.self)
            print("\(report.name) \(report.version): \(report.breaker.summary)")
        }
    }

    /// What is wrong with `value` as one segment of a URL path, or `nil` when nothing is.
    static func pathSegmentFailure(_ value: String) -> String? {
        if value.isEmpty { return "is empty" }
        if value.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control || "/?#%".unicodeScalars.contains($0) }) {
            return "contains whitespace, a control character or one of / ? # %"
        }
        return nil
    }

    /// The answer: `{"name": …, "version": …, "breaker": {…}}`.
    struct Report: Decodable {
        var name: String
        var version: String
        var breaker: BreakerState
    }
}

/// A breaker as the server reports it, in the override's answer and in `/health`.
struct BreakerState: Decodable, Sendable {
    var state: String
    var retryAfterMs: Int?
    var callsInWindow: Int
    var failureRate: Double
    var consecutiveFailures: Int
    var opens: Int

    /// One human line: `breaker forced-open (opens 0, failure rate 0.0 in 0 calls)`.
    var summary: String {
        let retry = retryAfterMs.map { ", probing in \(Self.seconds($0))" } ?? ""
        let streak = consecutiveFailures > 0 ? ", \(consecutiveFailures) failures in a row" : ""
        return "breaker \(state)\(retry) (opens \(opens), failure rate \(failureRate) in \(callsInWindow) calls\(streak))"
    }

    /// `1500` → `1.5 s`.
    static func seconds(_ milliseconds: Int) -> String {
        "\(Double(milliseconds) / 1000) s"
    }
}

extension BreakerOverride: ExpressibleByArgument {}
