import ModelHostCore
import ModelManifest
import ModelRegistry
import NIOHTTP1
import PluginLoader

/// The read-only routes: server and model metadata, readiness, and the repository index.
extension ModelHostService {
    func serverMetadata() -> [UInt8] {
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("name")
        writer.string(configuration.serverName)
        writer.raw(",")
        writer.key("version")
        writer.string(configuration.serverVersion)
        writer.raw(",")
        writer.key("extensions")
        writer.write(.array(Self.extensions.map(JSONValue.string)))
        writer.raw("}")
        return writer.bytes
    }

    func modelMetadata(name: String, version: String?) throws(ModelHostError) -> HTTPResponse {
        let snapshot = registry.snapshot
        let record = try Self.record(name: name, version: version, in: snapshot)
        guard let manifest = record.manifest else {
            throw ModelHostError(.modelNotReady, "model \"\(name)\" version \(record.version) has no readable manifest: \(record.failure?.message ?? "")", modelVersion: record.version)
        }
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("name")
        writer.string(name)
        writer.raw(",")
        writer.key("versions")
        writer.write(.array((snapshot.models[name] ?? []).map { .string($0.version) }))
        writer.raw(",")
        writer.key("platform")
        writer.string(manifest.platform)
        for (key, specs) in [("inputs", manifest.inputs), ("outputs", manifest.outputs)] {
            writer.raw(",")
            writer.key(key)
            writer.raw("[")
            for (index, spec) in specs.enumerated() {
                if index > 0 { writer.raw(",") }
                writer.raw("{")
                writer.key("name")
                writer.string(spec.name)
                writer.raw(",")
                writer.key("datatype")
                writer.string(spec.datatype.rawValue)
                writer.raw(",")
                writer.key("shape")
                InferenceResponseWriter.writeShape(spec.shape, to: &writer)
                writer.raw("}")
            }
            writer.raw("]")
        }
        writer.raw("}")
        return .json(.ok, writer.bytes, modelVersion: record.version)
    }

    func modelReady(name: String, version: String?) throws(ModelHostError) -> HTTPResponse {
        let record = try Self.record(name: name, version: version, in: registry.snapshot)
        var writer = JSONWriter()
        writer.raw("{")
        writer.key("name")
        writer.string(name)
        writer.raw(",")
        writer.key("ready")
        writer.bool(record.isReady)
        writer.raw("}")
        return .json(record.isReady ? .ok : .serviceUnavailable, writer.bytes, modelVersion: record.version)
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

    func repositoryIndex() -> [UInt8] {
        let snapshot = registry.snapshot
        var writer = JSONWriter()
        writer.raw("[")
        var isFirst = true
        for name in snapshot.models.keys.sorted() {
            let active = snapshot.activeVersion(of: name)?.version
            for record in snapshot.models[name] ?? [] {
                if !isFirst { writer.raw(",") }
                isFirst = false
                writer.raw("{")
                writer.key("name")
                writer.string(record.name)
                writer.raw(",")
                writer.key("version")
                writer.string(record.version)
                writer.raw(",")
                writer.key("state")
                writer.string(record.isReady ? "READY" : "UNAVAILABLE")
                writer.raw(",")
                writer.key("active")
                writer.bool(record.version == active)
                if let failure = record.failure {
                    writer.raw(",")
                    writer.key("reason")
                    writer.string("\(failure.code): \(failure.message)")
                }
                writer.raw("}")
            }
        }
        writer.raw("]")
        return writer.bytes
    }
}
