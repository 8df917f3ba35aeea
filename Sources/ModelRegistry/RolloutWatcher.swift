import CircuitBreaker
import ModelHostCore
import ModelManifest
import Scheduler

/// Watches every model's newly serving versions while the server runs, and rolls an unhealthy
/// one back (or promotes a healthy canary) through the registry: the control-plane loop around
/// ``RolloutWatch``.
public actor RolloutWatcher {
    /// How often the watcher looks.
    public struct Configuration: Sendable {
        /// The time between looks. Default 1 second.
        public var interval: Duration = .seconds(1)

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private let registry: ModelRegistry
    private let configuration: Configuration
    private var watch = RolloutWatch<ContinuousClock.Instant>()
    private let rolledBack: @Sendable (_ model: String, _ version: String, _ reason: String) -> Void

    /// Creates a watcher over `registry`.
    ///
    /// - Parameter rolledBack: Told of each version the watcher rolled back by itself, and why.
    public init(
        registry: ModelRegistry, configuration: Configuration = .init(),
        rolledBack: @escaping @Sendable (_ model: String, _ version: String, _ reason: String) -> Void = { _, _, _ in }
    ) {
        self.registry = registry
        self.configuration = configuration
        self.rolledBack = rolledBack
    }

    /// Looks every ``Configuration/interval`` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            look(now: .now)
            try? await Task.sleep(for: configuration.interval)
        }
    }

    /// Looks once: observes the versions taking traffic and acts on what the watch decides.
    ///
    /// - Returns: What was changed, in words.
    @discardableResult
    public func look(now: ContinuousClock.Instant) -> [String] {
        let snapshot = registry.snapshot
        var models: [String: [RolloutWatch<ContinuousClock.Instant>.Health]] = [:]
        for (name, rollout) in snapshot.rollouts {
            let records = snapshot.models[name] ?? []
            let ready = snapshot.readyVersions(of: name)
            var serving: [String] = []
            if rollout.pinned == nil, let split = rollout.split {
                serving = split.map(\.version).filter(ready.contains)
            } else {
                serving = [rollout.activeVersion(ready: ready)].compactMap { $0 }
                if rollout.pinned == nil, let canary = rollout.canary, ready.contains(canary.version) { serving.append(canary.version) }
            }
            models[name] = serving.compactMap { version in
                guard let record = records.first(where: { $0.version == version }), let serving = record.serving else { return nil }
                let phase = serving.breakerSnapshot.phase
                let counts = serving.outcomeCounts
                return .init(
                    version: version, isCanary: rollout.canary?.version == version, isBreakerOpen: phase == .open || phase == .halfOpen,
                    succeeded: counts.succeeded, failed: counts.failed, settings: record.manifest?.rollout ?? RolloutSettings()
                )
            }
        }
        var changes: [String] = []
        for decision in watch.observe(models, now: now) {
            switch decision {
            case .rollBack(let model, let version, let reason):
                let summary = try? registry.updateRollout(of: model) { (rollout: inout RolloutState, ready: [String]) throws(ModelHostError) -> String in
                    guard let summary = rollout.rollBackUnhealthy(version, reason: reason, ready: ready) else {
                        throw ModelHostError(.invalidRequest, "\(version) no longer takes traffic")
                    }
                    return summary
                }
                if let summary {
                    changes.append(summary)
                    rolledBack(model, version, reason)
                    if let active = registry.snapshot.activeVersion(of: model)?.version { watch.markEstablished(model: model, version: active) }
                }
            case .promote(let model, let version):
                if let summary = try? registry.updateRollout(of: model, { (rollout: inout RolloutState, ready: [String]) throws(ModelHostError) -> String in
                    try rollout.promote(version, ready: ready)
                }) {
                    changes.append(summary)
                }
            }
        }
        return changes
    }
}
