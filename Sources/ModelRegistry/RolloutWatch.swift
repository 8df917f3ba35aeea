import ModelManifest

/// The watch over versions that have just started to take unversioned traffic — activated, or
/// a canary or split variant: if one's breaker opens or its error ratio passes its manifest's
/// `rollout.maxErrorRate` within `rollout.watchMs`, it is rolled back; a canary that stays
/// healthy to the end of its watch is promoted.
///
/// A pure value driven by observations: each one says, for every model, which versions take
/// unversioned traffic now and how each is doing, and the watch answers what to do. A version
/// is watched from the first observation in which it takes traffic it did not take before;
/// versions already serving at the first observation (after a start) are established and not
/// watched.
public struct RolloutWatch<Instant: InstantProtocol>: Sendable where Instant: Sendable, Instant.Duration == Duration {
    /// How one version taking traffic is doing.
    public struct Health: Sendable, Hashable {
        /// The version.
        public var version: String
        /// Whether it is the canary (promoted at the end of a healthy watch).
        public var isCanary: Bool
        /// Whether its breaker opened on its own (not forced by an operator).
        public var isBreakerOpen: Bool
        /// Its calls so far: successes and failures.
        public var succeeded: Int
        /// Its failed calls so far.
        public var failed: Int
        /// Its manifest's watch settings.
        public var settings: RolloutSettings

        /// Creates an observation of one version.
        public init(version: String, isCanary: Bool, isBreakerOpen: Bool, succeeded: Int, failed: Int, settings: RolloutSettings) {
            self.version = version
            self.isCanary = isCanary
            self.isBreakerOpen = isBreakerOpen
            self.succeeded = succeeded
            self.failed = failed
            self.settings = settings
        }
    }

    /// What the watch asks for.
    public enum Decision: Sendable, Hashable {
        /// Roll `version` of `model` back, for `reason`.
        case rollBack(model: String, version: String, reason: String)
        /// Make the canary `version` of `model` active: its watch ended healthy.
        case promote(model: String, version: String)
    }

    private struct Watched: Sendable {
        var until: Instant
        var succeeded: Int
        var failed: Int
    }

    private var watched: [String: [String: Watched]] = [:]
    /// Versions taking traffic at the last observation, by model.
    private var serving: [String: Set<String>] = [:]
    private var isFirstObservation = true

    /// A watch that has seen nothing yet.
    public init() {}

    /// Takes `version` of `model` as established: it is not watched when it next takes traffic.
    /// For the version a rollback returned to: it served before.
    public mutating func markEstablished(model: String, version: String) {
        serving[model, default: []].insert(version)
    }

    /// Versions under watch, by model.
    public var watchedVersions: [String: Set<String>] { watched.mapValues { Set($0.keys) } }

    /// Looks at every model's versions that take unversioned traffic now.
    ///
    /// - Parameter models: For each model, its versions taking unversioned traffic.
    /// - Returns: Rollbacks and promotions to make, in a stable order.
    public mutating func observe(_ models: [String: [Health]], now: Instant) -> [Decision] {
        var decisions: [Decision] = []
        for model in models.keys.sorted() {
            let versions = models[model] ?? []
            let current = Set(versions.map(\.version))
            let before = serving[model] ?? []
            var modelWatch = watched[model] ?? [:]
            // No longer taking traffic: no longer watched.
            modelWatch = modelWatch.filter { current.contains($0.key) }
            for health in versions {
                if !before.contains(health.version), !isFirstObservation {
                    modelWatch[health.version] = Watched(
                        until: now.advanced(by: .milliseconds(health.settings.watchMilliseconds)),
                        succeeded: health.succeeded, failed: health.failed
                    )
                }
                guard let watch = modelWatch[health.version] else { continue }
                if health.isBreakerOpen {
                    decisions.append(.rollBack(model: model, version: health.version, reason: "its breaker opened during its watch"))
                    modelWatch[health.version] = nil
                    continue
                }
                let failed = health.failed - watch.failed
                let answered = failed + health.succeeded - watch.succeeded
                if answered >= health.settings.minimumRequests, Double(failed) / Double(answered) > health.settings.maxErrorRate {
                    let ratio = (Double(failed) / Double(answered) * 1000).rounded() / 1000
                    decisions.append(.rollBack(
                        model: model, version: health.version,
                        reason: "error ratio \(ratio) over \(answered) requests passed rollout.maxErrorRate \(health.settings.maxErrorRate) during its watch"
                    ))
                    modelWatch[health.version] = nil
                    continue
                }
                if watch.until <= now {
                    modelWatch[health.version] = nil
                    if health.isCanary { decisions.append(.promote(model: model, version: health.version)) }
                }
            }
            watched[model] = modelWatch.isEmpty ? nil : modelWatch
            serving[model] = current
        }
        for model in serving.keys where models[model] == nil {
            serving[model] = nil
            watched[model] = nil
        }
        isFirstObservation = false
        return decisions
    }
}
