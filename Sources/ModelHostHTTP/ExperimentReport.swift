import ModelHostCore
import ModelRegistry
import Telemetry

/// A model's versions under a canary or split, side by side: what an operator reads before
/// promoting one — each variant's traffic, requests, error ratio, latency and tracked output
/// distributions, and how far each candidate's distributions are from the baseline's.
///
/// The baseline is the active version when it takes traffic, else the first variant. Counts
/// are since each version was loaded; distributions are each version's recent window.
struct ExperimentReport {
    /// One version taking part.
    struct Variant {
        var version: String
        var isBaseline: Bool
        var trafficPercent: Double
        var requests: VersionTelemetry.Snapshot
        var predictions: PredictionTracker.Snapshot?
    }

    /// The outcome labels that count as the version's fault in the error ratio: the codes
    /// answered with a 5xx status. The caller's mistakes (validation, bad requests) are not.
    static let serverFaults: Set<String> = Set(
        [ModelHostError.Code.pluginError, .internal, .unavailable, .timeout, .overloaded, .modelNotReady].map(\.rawValue)
    )

    var model: String
    var mode: String
    var variants: [Variant]

    /// The report on `model` as `snapshot` has it.
    init(model: String, snapshot: ModelRegistry.Snapshot) {
        self.model = model
        let rollout = snapshot.rollouts[model] ?? RolloutState()
        mode = rollout.mode
        let records = snapshot.models[model] ?? []
        let active = snapshot.activeVersion(of: model)?.version
        let shares = snapshot.trafficShares(of: model)
        let baseline = shares.contains { $0.version == active } ? active : shares.first?.version
        variants = shares.compactMap { share in
            guard let record = records.first(where: { $0.version == share.version }) else { return nil }
            return Variant(
                version: share.version, isBaseline: share.version == baseline, trafficPercent: share.percent,
                requests: record.telemetry.snapshot, predictions: record.telemetry.predictions?.snapshot
            )
        }
    }

    /// The share of a variant's requests that ended in a server-side fault; `nil` before any.
    static func errorRatio(_ requests: VersionTelemetry.Snapshot) -> (errors: UInt64, ratio: Double?) {
        let errors = requests.outcomes.reduce(UInt64(0)) { sum, outcome in
            serverFaults.contains(outcome.key) ? sum &+ outcome.value : sum
        }
        let total = requests.requests
        return (errors, total > 0 ? Double(errors) / Double(total) : nil)
    }

    /// The report as JSON: `{"model", "mode", "variants": [...], "comparisons": [...]}`.
    var json: [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        writer.beginObject()
        writer.key("model")
        writer.string(model)
        writer.key("mode")
        writer.string(mode)
        writer.key("variants")
        writer.beginArray()
        for variant in variants { write(variant, to: &writer) }
        writer.endArray()
        writer.key("comparisons")
        writer.beginArray()
        if let baseline = variants.first(where: \.isBaseline) {
            for candidate in variants where !candidate.isBaseline {
                writeComparison(baseline, candidate, to: &writer)
            }
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    private func write(_ variant: Variant, to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("version")
        writer.string(variant.version)
        writer.key("baseline")
        writer.bool(variant.isBaseline)
        writer.key("trafficPercent")
        writer.number(orNull: variant.trafficPercent)
        writer.key("requests")
        writer.number(Int64(clamping: variant.requests.requests))
        let (errors, ratio) = Self.errorRatio(variant.requests)
        writer.key("errors")
        writer.number(Int64(clamping: errors))
        writer.key("errorRatio")
        writer.number(orNull: ratio)
        writer.key("latencyP50Seconds")
        writer.number(orNull: variant.requests.total.quantile(0.5))
        writer.key("latencyP99Seconds")
        writer.number(orNull: variant.requests.total.quantile(0.99))
        writer.key("tracked")
        writer.beginArray()
        for output in variant.predictions?.outputs ?? [] {
            writer.beginObject()
            writer.key("output")
            writer.string(output.name)
            let total = output.windowCounts.reduce(0, &+)
            writer.key("count")
            writer.number(Int64(clamping: total))
            writer.key("bins")
            writer.beginArray()
            for (label, count) in zip(output.binLabels, output.windowCounts) {
                writer.beginObject()
                writer.key("label")
                writer.string(label)
                writer.key("fraction")
                writer.number(orNull: total > 0 ? Double(count) / Double(total) : 0)
                writer.endObject()
            }
            writer.endArray()
            writer.key("psiVsReference")
            writer.number(orNull: output.psi)
            writer.key("drifting")
            writer.bool(output.isDrifting)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
    }

    private func writeComparison(_ baseline: Variant, _ candidate: Variant, to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("baseline")
        writer.string(baseline.version)
        writer.key("candidate")
        writer.string(candidate.version)
        writer.key("psi")
        writer.beginObject()
        for output in candidate.predictions?.outputs ?? [] {
            guard let reference = baseline.predictions?.outputs.first(where: { $0.name == output.name && $0.isCategorical == output.isCategorical }) else { continue }
            writer.key(output.name)
            // Over the union of the two versions' bins, by label: a candidate may add a class.
            var labels = reference.binLabels
            for label in output.binLabels where !labels.contains(label) { labels.append(label) }
            func counts(_ snapshot: PredictionTracker.OutputSnapshot) -> [Double] {
                labels.map { label in snapshot.binLabels.firstIndex(of: label).map { Double(snapshot.windowCounts[$0]) } ?? 0 }
            }
            let (expected, actual) = (counts(reference), counts(output))
            let isComparable = expected.reduce(0, +) > 0 && actual.reduce(0, +) > 0
            writer.number(orNull: isComparable ? PopulationStability.index(reference: expected, recent: actual) : nil)
        }
        writer.endObject()
        writer.endObject()
    }
}
