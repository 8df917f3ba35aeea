import CircuitBreaker
import ModelHostCore
import ModelRegistry
import PluginLoader
import Scheduler

/// `GET /health`: every model version with its state, its breaker and its load, for operators.
extension ModelHostService {
    /// Every known version, by model and version: its state (`READY`, `LOADING`, `UNAVAILABLE`),
    /// its breaker, and its calls in flight and queued; `status` is `ok` when every ready
    /// version's breaker lets calls through, else `degraded`.
    func health() -> [UInt8] {
        let snapshot = registry.snapshot
        var isDegraded = false
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("models")
        writer.beginArray()
        for name in snapshot.models.keys.sorted() {
            for record in snapshot.models[name] ?? [] {
                writer.beginObject()
                writer.key("name")
                writer.string(record.name)
                writer.key("version")
                writer.string(record.version)
                writer.key("state")
                writer.string(Self.state(of: record))
                if let serving = record.serving {
                    let breaker = serving.breakerSnapshot
                    if breaker.phase != .closed, breaker.phase != .disabled { isDegraded = true }
                    writer.key("breaker")
                    Self.write(breaker, to: &writer)
                    writer.key("inFlight")
                    writer.number(serving.runningCount)
                    writer.key("queued")
                    writer.number(serving.queuedCount)
                } else if let failure = record.failure {
                    writer.key("reason")
                    writer.string("\(failure.code): \(failure.message)")
                }
                writer.endObject()
            }
        }
        writer.endArray()
        writer.key("status")
        writer.string(isDegraded ? "degraded" : "ok")
        writer.endObject()
        return writer.bytes
    }

    /// A record's state as the repository index and `/health` spell it.
    static func state(of record: ModelVersionRecord) -> String {
        record.isReady ? "READY" : record.isLoading ? "LOADING" : "UNAVAILABLE"
    }

    /// A breaker's state as JSON: `{"state":…,"retryAfterMs":…,"failureRate":…,…}`.
    static func write(_ breaker: BreakerSnapshot, to writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("state")
        writer.string(breaker.phase.rawValue)
        if let retryAfter = breaker.retryAfter {
            writer.key("retryAfterMs")
            writer.number(retryAfter.components.seconds * 1000 + retryAfter.components.attoseconds / 1_000_000_000_000_000)
        }
        writer.key("callsInWindow")
        writer.number(breaker.callsInWindow)
        writer.key("failureRate")
        _ = writer.number((breaker.failureRate * 1000).rounded() / 1000)
        writer.key("consecutiveFailures")
        writer.number(breaker.consecutiveFailures)
        writer.key("opens")
        writer.number(breaker.opens)
        writer.endObject()
    }
}
