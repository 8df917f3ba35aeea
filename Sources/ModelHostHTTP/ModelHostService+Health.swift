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
                Self.writeIdentity(of: record, to: &writer)
                if let serving = record.serving {
                    let breaker = serving.breakerSnapshot
                    if breaker.phase != .closed, breaker.phase != .disabled { isDegraded = true }
                    writer.key("breaker")
                    Self.write(breaker, to: &writer)
                    writer.key("inFlight")
                    writer.number(serving.runningCount)
                    writer.key("queued")
                    writer.number(serving.queuedCount)
                }
                Self.writeFailure(of: record, to: &writer)
                writer.endObject()
            }
        }
        writer.endArray()
        writer.key("status")
        writer.string(isDegraded ? "degraded" : "ok")
        writer.endObject()
        return writer.bytes
    }

    /// A record's `name`, `version` and `state` (`READY`, `LOADING`, `UNAVAILABLE`), as the
    /// repository index and `/health` write them.
    static func writeIdentity(of record: ModelVersionRecord, to writer: inout JSONWriter) {
        writer.key("name")
        writer.string(record.name)
        writer.key("version")
        writer.string(record.version)
        writer.key("state")
        writer.string(record.isReady ? "READY" : record.isLoading ? "LOADING" : "UNAVAILABLE")
    }

    /// A failed record's `reason`: its error's code and message.
    static func writeFailure(of record: ModelVersionRecord, to writer: inout JSONWriter) {
        guard let failure = record.failure else { return }
        writer.key("reason")
        writer.string("\(failure.code): \(failure.message)")
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
