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
        /// Whether another caller might have been given another version: the request named no
        /// version and the model has a canary or split.
        public var dependsOnCaller = false
    }

    /// Everything the registry knows at one moment; never mutated once published.
    public struct Snapshot: Sendable {
        /// Records by model name, each list sorted from lowest to highest version.
        public var models: [String: [ModelVersionRecord]] = [:]
        /// Whether every bundle found at start has finished loading, ready or failed.
        public var isInitialLoadComplete = false
        /// Whether the server is shutting down: it reports not ready from then on.
        public var isShuttingDown = false
        /// Each model's rollout state; a model without one serves its highest ready version.
        public var rollouts: [String: RolloutState] = [:]

        /// The ready versions of `name`, lowest to highest.
        public func readyVersions(of name: String) -> [String] {
            (models[name] ?? []).filter(\.isReady).map(\.version)
        }

        /// The active version of `name`: the one unversioned requests go to outside a canary or
        /// split (its pin, its chosen active version, else its highest ready version).
        public func activeVersion(of name: String) -> ModelVersionRecord? {
            guard let versions = models[name] else { return nil }
            guard let state = rollouts[name] else { return versions.last { $0.isReady } }
            let chosen = state.activeVersion(ready: readyVersions(of: name))
            return versions.first { $0.version == chosen }
        }

        /// Whether at least one model is known and every known model has a ready version.
        public var isEveryModelReady: Bool {
            !models.isEmpty && models.keys.allSatisfy { activeVersion(of: $0) != nil }
        }

        /// Whether at least one model has a ready version.
        public var isAnyModelReady: Bool {
            models.keys.contains { activeVersion(of: $0) != nil }
        }

        /// The percent of unversioned traffic each ready version of `model` gets
        /// (``RolloutState/trafficShares(ready:)``), lowest version first.
        public func trafficShares(of model: String) -> [(version: String, percent: Double)] {
            (rollouts[model] ?? RolloutState()).trafficShares(ready: readyVersions(of: model))
        }
    }

    private let state = Mutex(Snapshot())
    private let rolloutChanged: @Sendable (_ model: String, _ state: RolloutState, _ summary: String) -> Void

    /// Creates an empty registry.
    ///
    /// - Parameter rolloutChanged: Told of every change of a model's rollout state, after it is
    ///   published, with what changed in words: to save and log it. Called on the thread that
    ///   made the change.
    public init(rolloutChanged: @escaping @Sendable (_ model: String, _ state: RolloutState, _ summary: String) -> Void = { _, _, _ in }) {
        self.rolloutChanged = rolloutChanged
    }

    /// The current snapshot.
    public var snapshot: Snapshot {
        state.withLock { $0 }
    }

    /// Records that the initial load has finished, and decides each model's rollout that no
    /// saved state decided: its ready versions, lowest first, each do what their manifest's
    /// `rollout` says, as if they had arrived in that order.
    public func markInitialLoadComplete() {
        let changes = state.withLock { snapshot -> [(String, RolloutState, String)] in
            snapshot.isInitialLoadComplete = true
            var changes: [(String, RolloutState, String)] = []
            for (name, versions) in snapshot.models where snapshot.rollouts[name] == nil {
                var rollout = RolloutState()
                var ready: [String] = []
                var summaries: [String] = []
                for record in versions where record.isReady {
                    ready.append(record.version)
                    if let summary = rollout.versionBecameReady(record.version, rollout: record.manifest?.rollout ?? RolloutSettings(), ready: ready) {
                        summaries.append(summary)
                    }
                }
                snapshot.rollouts[name] = rollout
                changes.append((name, rollout, summaries.joined(separator: "; ")))
            }
            return changes
        }
        for (name, rollout, summary) in changes where !summary.isEmpty { rolloutChanged(name, rollout, summary) }
    }

    /// Sets the rollout states saved by an earlier run, before the initial load completes.
    public func restoreRollouts(_ rollouts: [String: RolloutState]) {
        state.withLock { $0.rollouts.merge(rollouts) { _, saved in saved } }
    }

    /// Changes a model's rollout state in one step: `change` sees the current state and the
    /// model's ready versions; what it leaves is published at once, for every new request.
    ///
    /// - Returns: What `change` returned, in words.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/modelNotFound`` for an unknown
    ///   model, or what `change` threw (nothing is changed then).
    @discardableResult
    public func updateRollout(
        of name: String, _ change: (inout RolloutState, _ ready: [String]) throws(ModelHostError) -> String
    ) throws(ModelHostError) -> String {
        let result = state.withLock { snapshot -> Result<(RolloutState, String), ModelHostError> in
            guard snapshot.models[name] != nil else {
                return .failure(ModelHostError(.modelNotFound, "model \"\(name)\" is not known to this server"))
            }
            var rollout = snapshot.rollouts[name] ?? RolloutState()
            do throws(ModelHostError) {
                let summary = try change(&rollout, snapshot.readyVersions(of: name))
                snapshot.rollouts[name] = rollout
                return .success((rollout, summary))
            } catch {
                return .failure(error)
            }
        }
        let (rollout, summary) = try result.get()
        rolloutChanged(name, rollout, summary)
        return summary
    }

    /// Records that the server is shutting down, so readiness turns false at once.
    public func markShuttingDown() {
        state.withLock { $0.isShuttingDown = true }
    }

    /// Adds a version, or replaces the record of the same name and version. Once the initial
    /// load is complete, a version that becomes ready does what its manifest's `rollout` says.
    public func register(_ record: ModelVersionRecord) {
        let change = state.withLock { snapshot -> (RolloutState, String)? in
            var versions = snapshot.models[record.name, default: []]
            let wasReady = versions.contains { $0.version == record.version && $0.isReady }
            versions.removeAll { $0.version == record.version }
            versions.append(record)
            versions.sort(by: Self.isOrderedBefore)
            snapshot.models[record.name] = versions
            guard snapshot.isInitialLoadComplete, record.isReady, !wasReady else { return nil }
            var rollout = snapshot.rollouts[record.name] ?? RolloutState()
            let summary = rollout.versionBecameReady(record.version, rollout: record.manifest?.rollout ?? RolloutSettings(), ready: snapshot.readyVersions(of: record.name))
            snapshot.rollouts[record.name] = rollout
            return summary.map { (rollout, $0) }
        }
        if let (rollout, summary) = change { rolloutChanged(record.name, rollout, summary) }
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
            snapshot.rollouts[name]?.forget(version)
            return removed
        }
    }

    /// Chooses the version to serve a request.
    ///
    /// - Parameters:
    ///   - name: The model's name.
    ///   - version: A version the caller asked for, or `nil` for the one the model's rollout
    ///     gives this caller.
    ///   - caller: Who asks (a key id, or an address when authentication is off): a canary or
    ///     split keeps each caller on one version. `nil` goes to the active version.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/modelNotFound`` for an unknown model
    ///   or version, ``ModelHostError/Code/modelNotReady`` when it exists but cannot serve.
    public func resolve(_ name: String, version: String? = nil, caller: String? = nil) throws(ModelHostError) -> Resolution {
        let (versions, rollout) = state.withLock { ($0.models[name], $0.rollouts[name]) }
        guard let versions else {
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
            var record = versions.last(where: \.isReady)
            if let rollout {
                let ready = versions.filter(\.isReady).map(\.version)
                let bucket = caller.map { RolloutState.bucket(of: $0, model: name) }
                let target = bucket.map { rollout.version(forBucket: $0, ready: ready) } ?? rollout.activeVersion(ready: ready)
                record = versions.first { $0.version == target }
            }
            guard let record else {
                throw ModelHostError(.modelNotReady, "model \"\(name)\" has no ready version")
            }
            chosen = record
        }
        guard let serving = chosen.serving, let validator = chosen.validator, let manifest = chosen.manifest else {
            let reason = chosen.failure.map { ": \($0.code): \($0.message)" } ?? (chosen.isLoading ? " (it is loading)" : "")
            throw ModelHostError(.modelNotReady, "model \"\(name)\" version \(chosen.version) is not ready\(reason)", modelVersion: chosen.version)
        }
        let dependsOnCaller = version == nil && (rollout?.canary != nil || rollout?.split != nil)
        return Resolution(record: chosen, serving: serving, manifest: manifest, validator: validator, dependsOnCaller: dependsOnCaller)
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
