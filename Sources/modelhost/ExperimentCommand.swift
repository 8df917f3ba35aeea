import ArgumentParser
import Foundation
import NIOHTTP1

/// `modelhost experiment MODEL`: a model's canary or split variants side by side.
struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Compare the versions of a model under canary or split: traffic, requests, error ratio, latency, tracked outputs and their PSI.",
        discussion: """
            Reads GET /admin/models/MODEL/experiment, which needs the admin scope. One line per variant: \
            its share of traffic, requests and server-side errors since it was loaded, its latency p50 and \
            p99 (from head to answer), then per tracked output the recent window's distribution, and the \
            population stability index (PSI) of each candidate's window against the baseline's: under 0.1 \
            the two predict alike, over 0.25 they differ markedly. \(ControlOptions.keyAndExitStatus)
            """
    )

    @Argument(help: "The model.")
    var model: String

    @OptionGroup var options: ControlOptions

    func run() async throws {
        let server = try options.serverOptions.serverURL()
        try await CommandFailure.reporting { () async throws(CommandFailure) in
            let call = try options.serverOptions.call(to: server, keys: .admin)
            let answer = try await options.send(.GET, "/admin/models/\(model)/experiment", body: nil, with: call)
            if options.json {
                ControlOptions.printRaw(answer)
            } else {
                print(Self.text(try call.decode(answer, as: Report.self)), terminator: "")
            }
        }
    }

    /// The variants as a table, then each tracked output's distributions and PSI.
    static func text(_ report: Report) -> String {
        var text = "\(report.model): \(report.mode)"
        if report.mode != "canary" && report.mode != "split" { text += " (not under canary or split: one variant)" }
        text += "\n"
        var rows = [["VERSION", "ROLE", "TRAFFIC", "REQUESTS", "ERRORS", "ERROR RATIO", "P50", "P99"]]
        for variant in report.variants {
            rows.append([
                variant.version, variant.baseline ? "baseline" : "candidate", percent(variant.trafficPercent),
                String(variant.requests), String(variant.errors), variant.errorRatio.map(percent(ratio:)) ?? "-",
                variant.latencyP50Seconds.map(milliseconds) ?? "-", variant.latencyP99Seconds.map(milliseconds) ?? "-",
            ])
        }
        text += TextTable.render(rows)
        let outputs = report.variants.flatMap { $0.tracked.map(\.output) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for output in outputs {
            text += "\ntracked output \"\(output)\" (recent window):\n"
            let labels = report.variants.compactMap { $0.tracked.first { $0.output == output } }.first?.bins.map(\.label) ?? []
            var table = [["VERSION", "COUNT"] + labels + ["PSI VS BASELINE", "DRIFTING"]]
            for variant in report.variants {
                guard let tracked = variant.tracked.first(where: { $0.output == output }) else { continue }
                let psi = variant.baseline ? "-" : report.comparisons.first { $0.candidate == variant.version }?.psi[output]?.map(format) ?? "-"
                table.append([variant.version, String(tracked.count)] + labels.map { label in percent(ratio: tracked.bins.first { $0.label == label }?.fraction ?? 0) } + [psi, tracked.drifting ? "yes" : "no"])
            }
            text += TextTable.render(table)
        }
        return text
    }

    private static func percent(_ value: Double) -> String { String(format: "%.0f%%", value) }
    private static func percent(ratio: Double) -> String { String(format: "%.1f%%", ratio * 100) }
    private static func milliseconds(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
    private static func format(_ value: Double) -> String { String(format: "%.3f", value) }

    /// The answer of `GET /admin/models/{m}/experiment`.
    struct Report: Decodable {
        var model: String
        var mode: String
        var variants: [Variant]
        var comparisons: [Comparison]
    }

    /// One version taking part.
    struct Variant: Decodable {
        var version: String
        var baseline: Bool
        var trafficPercent: Double
        var requests: Int
        var errors: Int
        var errorRatio: Double?
        var latencyP50Seconds: Double?
        var latencyP99Seconds: Double?
        var tracked: [Tracked]
    }

    /// A tracked output's recent window.
    struct Tracked: Decodable {
        var output: String
        var count: Int
        var bins: [Bin]
        var psiVsReference: Double?
        var drifting: Bool
    }

    /// One bin of a distribution: a class, or a numeric bucket by its upper bound.
    struct Bin: Decodable {
        var label: String
        var fraction: Double
    }

    /// A candidate against the baseline: PSI per tracked output.
    struct Comparison: Decodable {
        var baseline: String
        var candidate: String
        var psi: [String: Double?]
    }
}
