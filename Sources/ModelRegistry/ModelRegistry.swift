import ModelHostCore
import ModelManifest
import PluginLoader
import Scheduler
import Synchronization

/// Every known version of every model, which version of each is active, and whether the
/// initial load of the models directory has finished.
///
/// Every loaded version stays resident. The active version of a model is its highest ready
/// semantic version. Reads take a short lock to copy an immutable snapshot; no lock is ever held
/// across plugin code, so lookups on the request path are cheap and never wait for an `infer`.
public final class ModelRegistry: Sendable {
    /// A ready version chosen to serve a request.
    public struct Resolution: Sendable {
        /// The version's record.
        public var record: ModelVersionRecord
        /// The version's execution owner, to submit the request to.
        public var serving: ServingVersion
        /// The version's manifest.
        public var manifest: Manifest
        /// The version's compiled input rules.
        public var validator: InputValidator
    }

    /// Everything the registry knows at one moment; never mutated once published.
    public struct Snapshot: Sendable {
        /// Records by model name, each list sorted from lowest to highest version.
        public var models: [String: [ModelVersionRecord]] = [:]
        /// Whether every bundle found at start has finished loading, ready or failed.
        public var isInitialLoadComplete = false
        /// Whether the server is shutting down: it reports not ready from then on.
        public var isShuttingDown = false

        /// The active (highest ready) version of `name`.
        public func activeVersion(of name: String) -> ModelVersionRecord? {
            models[name]?.last { $0.isReady }
        }

        /// Whether at least one model is known and every known model has a ready version.
        public var isEveryModelReady: Bool {
            !models.isEmpty && models.keys.allSatisfy { activeVersion(of: $0) != nil }
        }

        /// Whether at least one model has a ready version.
        public var isAnyModelReady: Bool {
            models.keys.contains { activeVersion(of: $0) != nil }
        }
    }

    private let state = Mutex(Snapshot())

    /// Creates an empty registry.
    public init() {}

    /// The current snapshot.
    public var snapshot: Snapshot {
        state.withLock { $0 }
    }

    /// Records that the initial load has finished.
    public func markInitialLoadComplete() {
        state.withLock { $0.isInitialLoadComplete = true }
    }

    /// Records that the server is shutting down, so readiness turns false at once.
    public func markShuttingDown() {
        state.withLock { $0.isShuttingDown = true }
    }

    /// Adds a version, or replaces the record of the same name and version.
    public func register(_ record: ModelVersionRecord) {
        state.withLock { snapshot in
            var versions = snapshot.models[record.name, default: []]
            versions.removeAll { $0.version == record.version }
            versions.append(record)
            versions.sort(by: Self.isOrderedBefore)
            snapshot.models[record.name] = versions
        }
    }

    /// Removes a version's record, so no new request resolves to it; requests that already have
    /// it finish on it. Shutting its execution down is the caller's.
    ///
    /// - Returns: The record removed, if there was one.
    @discardableResult
    public func remove(name: String, version: String) -> ModelVersionRecord? {
        state.withLock { snapshot in
            guard var versions = snapshot.models[name], let index = versions.firstIndex(where: { $0.version == version }) else { return nil }
            let removed = versions.remove(at: index)
            snapshot.models[name] = versions.isEmpty ? nil : versions
            return removed
        }
    }

    /// Chooses the version to serve a request.
    ///
    /// - Parameters:
    ///   - name: The model's name.
    ///   - version: A version the caller asked for, or `nil` for the active one.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/modelNotFound`` for an unknown model
    ///   or version, ``ModelHostError/Code/modelNotReady`` when it exists but cannot serve.
    public func resolve(_ name: String, version: String? = nil) throws(ModelHostError) -> Resolution {
        guard let versions = state.withLock({ $0.models[name] }) else {
            throw ModelHostError(.modelNotFound, "model \"\(name)\" is not known to this server")
        }
        let chosen: ModelVersionRecord
        if let version {
            guard let record = versions.first(where: { $0.version == version }) else {
                let known = versions.map(\.version).joined(separator: ", ")
                throw ModelHostError(.modelNotFound, "model \"\(name)\" has no version \"\(version)\" (known: \(known))")
            }
            chosen = record
        } else {
            guard let record = versions.last(where: \.isReady) else {
                throw ModelHostError(.modelNotReady, "model \"\(name)\" has no ready version")
            }
            chosen = record
        }
        guard let serving = chosen.serving, let validator = chosen.validator, let manifest = chosen.manifest else {
            let reason = chosen.failure.map { ": \($0.code): \($0.message)" } ?? (chosen.isLoading ? " (it is loading)" : "")
            throw ModelHostError(.modelNotReady, "model \"\(name)\" version \(chosen.version) is not ready\(reason)", modelVersion: chosen.version)
        }
        return Resolution(record: chosen, serving: serving, manifest: manifest, validator: validator)
    }

    /// Semantic versions in precedence order; anything else after them, by text.
    private static func isOrderedBefore(_ lhs: ModelVersionRecord, _ rhs: ModelVersionRecord) -> Bool {
        switch (lhs.semanticVersion, rhs.semanticVersion) {
        case let (left?, right?): left < right
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): lhs.version < rhs.version
        }
    }
}
