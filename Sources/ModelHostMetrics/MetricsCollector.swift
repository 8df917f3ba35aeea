import CircuitBreaker
import ModelHostCore
import ModelRegistry
import Scheduler
import Telemetry

/// Gathers what the host measures — the registry's versions and rollouts, each version's
/// requests, queue, breaker and predictions, the edge's refusals, the process — and renders it in
/// the Prometheus text format, when scraped.
///
/// Scraping reads each version's own state once, under that version's lock; the request path
/// never waits for it.
public struct MetricsCollector: Sendable {
    /// The models, versions and rollouts.
    let registry: ModelRegistry
    /// The edge's own counts.
    let counters: EdgeCounters
    /// The server's version, for `modelhost_build_info`.
    let serverVersion: String
    /// Reads the process's statistics; replaced in tests.
    let process: @Sendable () -> ProcessStatistics

    /// Creates a collector.
    ///
    /// - Parameters:
    ///   - registry: The models to report.
    ///   - counters: The edge's counts (refusals, requests without a version, model events).
    ///   - serverVersion: The version reported by `modelhost_build_info`.
    public init(registry: ModelRegistry, counters: EdgeCounters, serverVersion: String) {
        self.init(registry: registry, counters: counters, serverVersion: serverVersion, process: { ProcessStatistics.current() })
    }

    init(registry: ModelRegistry, counters: EdgeCounters, serverVersion: String, process: @escaping @Sendable () -> ProcessStatistics) {
        self.registry = registry
        self.counters = counters
        self.serverVersion = serverVersion
        self.process = process
    }

    /// The exposition: every metric family, in a stable order.
    public func render() -> String {
        let snapshot = registry.snapshot
        let versions = snapshot.models.keys.sorted().flatMap { name in
            (snapshot.models[name] ?? []).map { VersionReading(record: $0) }
        }
        var text = PrometheusText()
        writeRequests(versions, into: &text)
        writeExecution(versions, into: &text)
        writeAdmission(versions, into: &text)
        writeBreakers(versions, into: &text)
        writeModels(snapshot, into: &text)
        writePredictions(versions, into: &text)
        writeProcess(into: &text)
        return text.text
    }

    /// One version's state, read once per scrape.
    struct VersionReading {
        var record: ModelVersionRecord
        var labels: [(String, String)]
        var requests: VersionTelemetry.Snapshot
        var serving: ServingVersion?
        var statistics: ServingVersion.Statistics?

        init(record: ModelVersionRecord) {
            self.record = record
            labels = [("model", record.name), ("version", record.version)]
            requests = record.telemetry.snapshot
            serving = record.serving
            statistics = record.serving?.statistics
        }
    }

    // MARK: Families

    private func writeRequests(_ versions: [VersionReading], into text: inout PrometheusText) {
        text.family("modelhost_requests_total", .counter, help: "Requests answered by a model version, by outcome code (ok or the error code).")
        for version in versions {
            for (code, count) in version.requests.outcomes.sorted(by: { $0.key < $1.key }) {
                text.sample("modelhost_requests_total", labels: version.labels + [("code", code)], Double(count))
            }
        }
        text.family("modelhost_edge_requests_total", .counter, help: "Requests no model version's inference answered (probes, metadata, control, refusals before a version took them), by outcome code.")
        for (code, count) in counters.edgeRequests.counts.sorted(by: { $0.key < $1.key }) {
            text.sample("modelhost_edge_requests_total", labels: [("code", code)], Double(count))
        }
        let durations: [(String, String, KeyPath<VersionTelemetry.Snapshot, Histogram>)] = [
            ("modelhost_request_duration_seconds", "Seconds from a request's head to its answer.", \.total),
            ("modelhost_request_queue_duration_seconds", "Seconds a request waited in its version's queue before the plugin call.", \.queued),
            ("modelhost_request_inference_duration_seconds", "Seconds inside the plugin for a request (all attempts; a batch's whole call).", \.inference),
        ]
        for (name, help, path) in durations {
            text.family(name, .histogram, help: help)
            for version in versions where version.serving != nil {
                text.histogram(name, labels: version.labels, version.requests[keyPath: path])
            }
        }
    }

    private func writeExecution(_ versions: [VersionReading], into text: inout PrometheusText) {
        let serving = versions.compactMap { version in version.statistics.map { (version.labels, $0) } }
        text.family("modelhost_inflight_requests", .gauge, help: "Plugin calls running on the version's threads.")
        for (labels, statistics) in serving { text.sample("modelhost_inflight_requests", labels: labels, Double(statistics.running)) }
        text.family("modelhost_queued_requests", .gauge, help: "Requests waiting in the version's queue.")
        for (labels, statistics) in serving { text.sample("modelhost_queued_requests", labels: labels, Double(statistics.queued)) }
        text.family("modelhost_batch_size", .histogram, help: "Requests per plugin call: 1 alone, n in a dynamic batch of n.")
        for (labels, statistics) in serving { text.histogram("modelhost_batch_size", labels: labels, statistics.batchSizes) }
        text.family("modelhost_retries_total", .counter, help: "Plugin calls retried after a transient failure.")
        for (labels, statistics) in serving { text.sample("modelhost_retries_total", labels: labels, Double(statistics.retries)) }
        text.family("modelhost_retries_refused_total", .counter, help: "Transient failures answered instead of retried: attempts, deadline, retry budget or breaker.")
        for (labels, statistics) in serving { text.sample("modelhost_retries_refused_total", labels: labels, Double(statistics.refusedRetries)) }
    }

    private func writeAdmission(_ versions: [VersionReading], into text: inout PrometheusText) {
        text.family("modelhost_rate_limited_total", .counter, help: "Requests refused by a rate limit, by policy.")
        for (policy, count) in counters.rateLimited.counts.sorted(by: { $0.key < $1.key }) {
            text.sample("modelhost_rate_limited_total", labels: [("policy", policy)], Double(count))
        }
        text.family("modelhost_authentication_failures_total", .counter, help: "Requests refused for their credentials, by reason.")
        for (reason, count) in counters.authenticationFailures.counts.sorted(by: { $0.key < $1.key }) {
            text.sample("modelhost_authentication_failures_total", labels: [("reason", reason)], Double(count))
        }
        text.family("modelhost_validation_refusals_total", .counter, help: "Requests whose inputs the manifest refused, by input and rule.")
        for version in versions {
            let refusals = version.requests.refusals.sorted { ($0.key.input, $0.key.rule) < ($1.key.input, $1.key.rule) }
            for (refusal, count) in refusals {
                text.sample("modelhost_validation_refusals_total", labels: version.labels + [("input", refusal.input), ("rule", refusal.rule)], Double(count))
            }
        }
    }

    private func writeBreakers(_ versions: [VersionReading], into text: inout PrometheusText) {
        text.family("modelhost_breaker_state", .gauge, help: "1 for the state the version's circuit breaker is in, 0 for the others.")
        for version in versions {
            guard let serving = version.serving else { continue }
            let phase = serving.breakerSnapshot.phase
            for candidate in BreakerPhase.allCases {
                text.sample("modelhost_breaker_state", labels: version.labels + [("state", Self.label(candidate))], candidate == phase ? 1 : 0)
            }
        }
        text.family("modelhost_breaker_transitions_total", .counter, help: "Transitions of the version's circuit breaker, by the state entered.")
        for version in versions {
            guard let transitions = version.statistics?.breakerTransitions else { continue }
            for candidate in BreakerPhase.allCases {
                text.sample("modelhost_breaker_transitions_total", labels: version.labels + [("to", Self.label(candidate))], Double(transitions[candidate] ?? 0))
            }
        }
    }

    private func writeModels(_ snapshot: ModelRegistry.Snapshot, into text: inout PrometheusText) {
        let names = snapshot.models.keys.sorted()
        text.family("modelhost_model_version_ready", .gauge, help: "1 when the version is loaded and serves.")
        for name in names {
            for record in snapshot.models[name] ?? [] {
                text.sample("modelhost_model_version_ready", labels: [("model", name), ("version", record.version)], record.serving?.isReady == true ? 1 : 0)
            }
        }
        text.family("modelhost_model_active_version", .gauge, help: "1 for the version unversioned requests go to outside a canary or split.")
        for name in names {
            guard let active = snapshot.activeVersion(of: name) else { continue }
            text.sample("modelhost_model_active_version", labels: [("model", name), ("version", active.version)], 1)
        }
        text.family("modelhost_model_rollout", .gauge, help: "1 for the model's rollout mode: stable, canary, split or pinned.")
        for name in names {
            let mode = (snapshot.rollouts[name] ?? RolloutState()).mode
            for candidate in RolloutState.modes {
                text.sample("modelhost_model_rollout", labels: [("model", name), ("mode", candidate)], candidate == mode ? 1 : 0)
            }
        }
        text.family("modelhost_model_rollout_percent", .gauge, help: "Percent of unversioned traffic each ready version gets.")
        for name in names {
            for (version, percent) in snapshot.trafficShares(of: name) {
                text.sample("modelhost_model_rollout_percent", labels: [("model", name), ("version", version)], percent)
            }
        }
        let events = counters.modelEvents.snapshot
        text.family("modelhost_rollbacks_total", .counter, help: "Rollbacks, by trigger: automatic (the rollout watcher) or operator.")
        for name in names {
            let counts = events[name] ?? [:]
            text.sample("modelhost_rollbacks_total", labels: [("model", name), ("trigger", "automatic")], Double(counts[.automaticRollback] ?? 0))
            text.sample("modelhost_rollbacks_total", labels: [("model", name), ("trigger", "operator")], Double(counts[.operatorRollback] ?? 0))
        }
        let bundleCounts: [(String, String, ModelEventCounters.Event)] = [
            ("modelhost_bundle_loads_total", "Bundles loaded and serving.", .load),
            ("modelhost_bundle_load_failures_total", "Bundles refused by their checks or failed to load.", .loadFailure),
            ("modelhost_bundle_reloads_total", "Changed bundles loaded again in place of the copy that served.", .reload),
        ]
        let eventModels = Set(names).union(events.keys).sorted()
        for (family, help, event) in bundleCounts {
            text.family(family, .counter, help: help)
            for name in eventModels {
                text.sample(family, labels: [("model", name)], Double(events[name]?[event] ?? 0))
            }
        }
    }

    private func writePredictions(_ versions: [VersionReading], into text: inout PrometheusText) {
        let tracked = versions.compactMap { version in version.record.telemetry.predictions.map { (version.labels, $0.snapshot) } }
        text.family("modelhost_prediction_drift_psi", .gauge, help: "Population stability index of a tracked output's recent window against its reference.")
        for (labels, snapshot) in tracked {
            for output in snapshot.outputs {
                guard let psi = output.psi else { continue }
                text.sample("modelhost_prediction_drift_psi", labels: labels + [("output", output.name)], psi)
            }
        }
        text.family("modelhost_prediction_drift_threshold", .gauge, help: "The PSI at or above which the manifest marks the version drifting.")
        for (labels, snapshot) in tracked {
            text.sample("modelhost_prediction_drift_threshold", labels: labels, snapshot.psiThreshold)
        }
        text.family("modelhost_model_drifting", .gauge, help: "1 when a tracked output of the version has drifted from its reference.")
        for (labels, snapshot) in tracked {
            text.sample("modelhost_model_drifting", labels: labels, snapshot.isDrifting ? 1 : 0)
        }
        text.family("modelhost_prediction_class_total", .counter, help: "Predictions of a categorical tracked output, by class.")
        for (labels, snapshot) in tracked {
            for output in snapshot.outputs where output.isCategorical {
                for (label, count) in zip(output.binLabels, output.totalCounts) {
                    text.sample("modelhost_prediction_class_total", labels: labels + [("output", output.name), ("class", label)], Double(count))
                }
            }
        }
        text.family("modelhost_prediction_value", .histogram, help: "Values of a numeric tracked output (a confidence, a score), over the manifest's bounds.")
        for (labels, snapshot) in tracked {
            for output in snapshot.outputs {
                guard let histogram = output.numeric else { continue }
                text.histogram("modelhost_prediction_value", labels: labels + [("output", output.name)], histogram)
            }
        }
    }

    private func writeProcess(into text: inout PrometheusText) {
        let process = self.process()
        let gauges: [(String, PrometheusText.Kind, String, Double?)] = [
            ("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.", process.residentMemoryBytes.map { Double($0) }),
            ("process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.", process.virtualMemoryBytes.map { Double($0) }),
            ("process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.", process.cpuSeconds),
            ("process_start_time_seconds", .gauge, "Start time of the process since unix epoch in seconds.", process.startTimeSeconds),
            ("process_open_fds", .gauge, "Number of open file descriptors.", process.openFileDescriptors.map { Double($0) }),
            ("process_max_fds", .gauge, "Maximum number of open file descriptors.", process.maxFileDescriptors.map { Double($0) }),
        ]
        // A figure the system does not provide is left out, family and all.
        for (name, kind, help, value) in gauges {
            guard let value else { continue }
            text.family(name, kind, help: help)
            text.sample(name, value)
        }
        text.family("modelhost_build_info", .gauge, help: "Always 1; the version label names the running ModelHost.")
        text.sample("modelhost_build_info", labels: [("version", serverVersion)], 1)
    }

    // MARK: Labels

    /// A breaker phase as a label value: `closed`, `open`, `half_open`, `forced_open`, `disabled`.
    static func label(_ phase: BreakerPhase) -> String {
        String(phase.rawValue.map { $0 == "-" ? "_" : $0 })
    }
}
