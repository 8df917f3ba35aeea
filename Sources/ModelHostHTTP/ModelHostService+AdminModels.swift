import CircuitBreaker
import ModelHostCore
import ModelRegistry
import Telemetry
import NIOHTTP1
import Scheduler

/// `GET /admin/models`: every model version with its place in the model's rollout, and the same
/// account of one model in the answer of every control route.
extension ModelHostService {
    /// Every known model, by name: `{"models": [{"name", "active", "versions": [...]}, ...]}`.
    func adminModels() -> [UInt8] {
        let snapshot = registry.snapshot
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("models")
        writer.beginArray()
        for name in snapshot.models.keys.sorted() {
            writer.beginObject()
            Self.writeModel(name, in: snapshot, to: &writer)
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    /// The answer of a control route: `{"name", "changed", "active", "versions"}`, the model as
    /// it is once the change is made.
    static func controlResponse(model name: String, changed: String, in snapshot: ModelRegistry.Snapshot) -> HTTPResponse {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("changed")
        writer.string(changed)
        writeModel(name, in: snapshot, to: &writer)
        writer.endObject()
        return .json(.ok, writer.bytes)
    }

    /// One model's fields, into an open object: `name`; `active`, the version unversioned
    /// requests go to outside a canary or split (`null` when none is ready); and `versions`,
    /// lowest first, each with `version`, `state`, `active`, `pinned`, `canaryPercent` or
    /// `splitWeight` when it has one, `rolledBack` (the reason) when it was rolled back, its
    /// `breaker` state, for a version that tracks predictions whether it is `drifting` and the
    /// `drift` (PSI, `null` until measured) of each tracked output, and a failed version's `reason`. A model that is gone has no versions.
    static func writeModel(_ name: String, in snapshot: ModelRegistry.Snapshot, to writer: inout JSONWriter) {
        let rollout = snapshot.rollouts[name] ?? RolloutState()
        let active = snapshot.activeVersion(of: name)?.version
        writer.key("name")
        writer.string(name)
        writer.key("active")
        if let active { writer.string(active) } else { writer.write(.null) }
        writer.key("versions")
        writer.beginArray()
        for record in snapshot.models[name] ?? [] {
            let version = record.version
            writer.beginObject()
            writer.key("version")
            writer.string(version)
            writer.key("state")
            writer.string(record.isReady ? "READY" : record.isLoading ? "LOADING" : "UNAVAILABLE")
            writer.key("active")
            writer.bool(version == active)
            writer.key("pinned")
            writer.bool(rollout.pinned == version)
            if let canary = rollout.canary, canary.version == version {
                writer.key("canaryPercent")
                writeNumber(canary.percent, to: &writer)
            }
            if let weight = rollout.split?.first(where: { $0.version == version })?.weight {
                writer.key("splitWeight")
                writeNumber(weight, to: &writer)
            }
            if let reason = rollout.rolledBack[version] {
                writer.key("rolledBack")
                writer.string(reason)
            }
            if let serving = record.serving {
                writer.key("breaker")
                writer.string(serving.breakerSnapshot.phase.rawValue)
            }
            if let predictions = record.telemetry.predictions?.snapshot {
                writer.key("drifting")
                writer.bool(predictions.isDrifting)
                writer.key("drift")
                writer.beginObject()
                for output in predictions.outputs {
                    writer.key(output.name)
                    writer.number(orNull: output.psi)
                }
                writer.endObject()
            }
            writeFailure(of: record, to: &writer)
            writer.endObject()
        }
        writer.endArray()
    }

    /// A whole number as an integer (`30`, not `30.0`), anything else as it is.
    private static func writeNumber(_ value: Double, to writer: inout JSONWriter) {
        if value.rounded() == value, abs(value) < 1e15 {
            writer.number(Int64(value))
        } else if !writer.number(value) {
            writer.write(.null)
        }
    }
}
