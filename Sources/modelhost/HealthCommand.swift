import ArgumentParser
import Foundation
import NIOHTTP1

/// `modelhost health`: every model version of a running server with its state, breaker and load.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Show every model version of a running server: state, breaker, calls in flight and queued.",
        discussion: """
            Reads GET /health, which needs a key with the infer scope (as model metadata does). The \
            key is read from the file --key-file names (readable by its owner only), else from the \
            environment variable MODELHOST_API_KEY, else MODELHOST_ADMIN_KEY, never from a flag, so \
            it stays out of process listings and shell history; without any \
            the request is sent with no key, which only a server run with --insecure-no-auth accepts. \
            Exit status: 0 (the server's status, ok or degraded, is printed last), otherwise as for \
            `modelhost breaker`.
            """
    )

    @OptionGroup var serverOptions: ServerOptions

    func run() async throws {
        let server = try serverOptions.serverURL()
        try await CommandFailure.reporting { () async throws(CommandFailure) in
            let report = try await serverOptions.call(to: server, keys: .metadata).send(.GET, "/health", as: Report.self)
            print(Self.table(report), terminator: "")
        }
    }

    /// The table, a line per version, then reasons for versions that failed, then the status.
    static func table(_ report: Report) -> String {
        var rows = [["MODEL", "VERSION", "STATE", "BREAKER", "IN FLIGHT", "QUEUED"]]
        for version in report.models {
            let breaker = version.breaker.map { breaker in
                breaker.retryAfterMs.map { "\(breaker.state) (probing in \(BreakerState.seconds($0)))" } ?? breaker.state
            }
            rows.append([
                version.name, version.version, version.state, breaker ?? "-",
                version.inFlight.map(String.init) ?? "-", version.queued.map(String.init) ?? "-",
            ])
        }
        var text = TextTable.render(rows)
        for version in report.models {
            if let reason = version.reason { text += "\(version.name) \(version.version): \(reason)\n" }
        }
        text += "status: \(report.status)\n"
        return text
    }

    /// The answer of `GET /health`.
    struct Report: Decodable {
        var models: [Version]
        var status: String
    }

    /// One model version in `/health`.
    struct Version: Decodable {
        var name: String
        var version: String
        var state: String
        var breaker: BreakerState?
        var inFlight: Int?
        var queued: Int?
        var reason: String?
    }
}
