import ArgumentParser
import Foundation
import NIOHTTP1

/// `modelhost models`: every model version of a running server with its place in the model's
/// rollout.
struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Show every model version of a running server: state, whether it is active or pinned, its canary or split share, its breaker.",
        discussion: """
            Reads GET /admin/models, which needs the admin scope; a key restricted to some models \
            sees every model here, as in /health. Then a line per rolled-back version with the reason, \
            and per failed version with why. \(ControlOptions.keyAndExitStatus)
            """
    )

    @OptionGroup var options: ControlOptions

    func run() async throws {
        let server = try options.serverOptions.serverURL()
        try await CommandFailure.reporting { () async throws(CommandFailure) in
            let call = try options.serverOptions.call(to: server, keys: .admin)
            let answer = try await options.send(.GET, "/admin/models", body: nil, with: call)
            if options.json {
                ControlOptions.printRaw(answer)
            } else {
                print(Self.table(try call.decode(answer, as: Report.self)), terminator: "")
            }
        }
    }

    /// The table, a line per version; then rolled-back versions with their reason, and failed
    /// versions with theirs.
    static func table(_ report: Report) -> String {
        var rows = [["MODEL", "VERSION", "STATE", "ACTIVE", "PINNED", "ROLLOUT", "BREAKER", "DRIFT"]]
        var notes: [String] = []
        for model in report.models {
            for version in model.versions {
                rows.append([
                    model.name, version.version, version.state, version.active ? "yes" : "-", version.pinned ? "yes" : "-",
                    version.rollout, version.breaker ?? "-", version.driftSummary,
                ])
                if let reason = version.rolledBack { notes.append("\(model.name) \(version.version): rolled back: \(reason)") }
                if let reason = version.reason { notes.append("\(model.name) \(version.version): \(reason)") }
            }
        }
        var text = TextTable.render(rows)
        for note in notes { text += note + "\n" }
        return text
    }

    /// The answer of `GET /admin/models`.
    struct Report: Decodable {
        var models: [Model]
    }

    /// One model.
    struct Model: Decodable {
        var name: String
        var active: String?
        var versions: [Version]
    }

    /// One version of a model.
    struct Version: Decodable {
        var version: String
        var state: String
        var active: Bool
        var pinned: Bool
        var canaryPercent: Double?
        var splitWeight: Double?
        var rolledBack: String?
        var breaker: String?
        var drifting: Bool?
        var drift: [String: Double?]?
        var reason: String?

        /// Drift in a few words: `drifting (intent 0.31)`, `ok (intent 0.02, confidence 0.04)`,
        /// `pending` before the first measure, `-` for a version that tracks nothing.
        var driftSummary: String {
            guard let drift, let drifting else { return "-" }
            let measured = drift.keys.sorted().compactMap { name in drift[name].flatMap { $0 }.map { "\(name) \(String(format: "%.2f", $0))" } }
            guard !measured.isEmpty else { return "pending" }
            return "\(drifting ? "drifting" : "ok") (\(measured.joined(separator: ", ")))"
        }

        /// Its part in the rollout, in a word or two: `canary 30%`, `split 50`, `rolled-back`, `-`.
        var rollout: String {
            if let canaryPercent { return "canary \(Self.describe(canaryPercent))%" }
            if let splitWeight { return "split \(Self.describe(splitWeight))" }
            if rolledBack != nil { return "rolled-back" }
            return "-"
        }

        /// `30.0` → `30`; `12.5` stays.
        static func describe(_ value: Double) -> String {
            value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        }
    }
}
