import CircuitBreaker
import ModelHostCore
import ModelManifest
import ModelRegistry
import NIOHTTP1
import PluginLoader
import Scheduler

/// The read-only routes: server and model metadata, readiness, and the repository index.
extension ModelHostService {
    /// `GET /v2`: the server's name, version and ``extensions``.
    func serverMetadata() -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string(configuration.serverName)
        writer.key("version")
        writer.string(configuration.serverVersion)
        writer.key("extensions")
        writer.write(.array(Self.extensions.map(JSONValue.string)))
        writer.endObject()
        return writer.bytes
    }

    /// `GET /v2/models/{m}[/versions/{v}]`: the model's versions, platform, inputs and outputs.
    func modelMetadata(name: String, version: String?) throws(ModelHostError) -> HTTPResponse {
        let snapshot = registry.snapshot
        let record = try Self.record(name: name, version: version, in: snapshot)
        guard let manifest = record.manifest else {
            throw ModelHostError(.modelNotReady, "model \"\(name)\" version \(record.version) has no readable manifest: \(record.failure?.message ?? "")", modelVersion: record.version)
        }
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string(name)
        writer.key("versions")
        writer.write(.array((snapshot.models[name] ?? []).map { .string($0.version) }))
        writer.key("platform")
        writer.string(manifest.platform)
        for (key, specs) in [("inputs", manifest.inputs), ("outputs", manifest.outputs)] {
            writer.key(key)
            writer.beginArray()
            for spec in specs {
                writer.beginObject()
                InferenceResponseWriter.writeSpec(name: spec.name, datatype: spec.datatype, shape: spec.shape, to: &writer)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.endObject()
        return .json(.ok, writer.bytes, modelVersion: record.version)
    }

    /// Whether the version can take a request now: loaded, not draining, and not every one of its
    /// threads held by a call past its deadline.
    func modelReady(name: String, version: String?) throws(ModelHostError) -> HTTPResponse {
        let record = try Self.record(name: name, version: version, in: registry.snapshot)
        let isReady = record.serving?.isReady ?? false
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string(name)
        writer.key("ready")
        writer.bool(isReady)
        writer.endObject()
        return .json(isReady ? .ok : .serviceUnavailable, writer.bytes, modelVersion: record.version)
    }

    /// KServe v1 model status, `GET /v1/models/{m}`: `{"name": m, "ready": bool}`, with 200 whether
    /// or not the model is ready, as KServe's own servers answer; readiness as ``modelReady(name:version:)``
    /// decides it, for the active version (else the highest known).
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/modelNotFound`` for a model the
    ///   server does not know.
    func v1Model(name: String) throws(ModelHostError) -> HTTPResponse {
        let record = try Self.record(name: name, version: nil, in: registry.snapshot)
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("name")
        writer.string(name)
        writer.key("ready")
        writer.bool(record.serving?.isReady ?? false)
        writer.endObject()
        return .json(.ok, writer.bytes, modelVersion: record.version)
    }

    /// The record a metadata or readiness request names: the given version, else the active
    /// one, else (no version ready) the highest known, so its failure can be reported.
    private static func record(name: String, version: String?, in snapshot: ModelRegistry.Snapshot) throws(ModelHostError) -> ModelVersionRecord {
        guard let versions = snapshot.models[name] else {
            throw ModelHostError(.modelNotFound, "model \"\(name)\" is not known to this server")
        }
        if let version {
            guard let record = versions.first(where: { $0.version == version }) else {
                throw ModelHostError(.modelNotFound, "model \"\(name)\" has no version \"\(version)\" (known: \(versions.map(\.version).joined(separator: ", ")))")
            }
            return record
        }
        return snapshot.activeVersion(of: name) ?? versions[versions.count - 1]
    }

    /// `POST /v2/repository/index`: every known version with its state, and a failed one's reason.
    func repositoryIndex() -> [UInt8] {
        let snapshot = registry.snapshot
        var writer = JSONWriter()
        writer.beginArray()
        for name in snapshot.models.keys.sorted() {
            let active = snapshot.activeVersion(of: name)?.version
            for record in snapshot.models[name] ?? [] {
                writer.beginObject()
                Self.writeIdentity(of: record, to: &writer)
                writer.key("active")
                writer.bool(record.version == active)
                if let serving = record.serving {
                    writer.key("breaker")
                    writer.string(serving.breakerSnapshot.phase.rawValue)
                }
                Self.writeFailure(of: record, to: &writer)
                writer.endObject()
            }
        }
        writer.endArray()
        return writer.bytes
    }
}
