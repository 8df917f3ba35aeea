import ModelHostCore
import ModelManifest

/// Which version of one model serves requests that name no version, and why: the active
/// version, an operator's pin, a canary or an A/B split, and the versions rolled back.
///
/// A pure value, saved as it is and applied on restart. Every change is a method that checks it
/// against the model's versions and either changes the state or throws, so the registry
/// publishes a new state in one step and a request sees the old one or the new one, never a mix.
/// Without any state, a model serves its highest ready version.
public struct RolloutState: Sendable, Hashable, Codable {
    /// A version taking a share of the unversioned traffic for a time.
    public struct Canary: Sendable, Hashable, Codable {
        /// The canary version.
        public var version: String
        /// Its share of unversioned traffic, in percent.
        public var percent: Double

        /// A canary of `version` taking `percent` of unversioned traffic.
        public init(version: String, percent: Double) {
            self.version = version
            self.percent = percent
        }
    }

    /// One variant of an A/B split.
    public struct Variant: Sendable, Hashable, Codable {
        /// The version.
        public var version: String
        /// Its weight, relative to the others'.
        public var weight: Double

        /// `version` with `weight`.
        public init(version: String, weight: Double) {
            self.version = version
            self.weight = weight
        }
    }

    /// The version that serves unversioned requests; `nil` for the highest ready one.
    public var active: String?
    /// Versions active before, the most recent last: where a rollback goes by default.
    public var history: [String] = []
    /// A version an operator pinned: it stays active whatever new versions do.
    public var pinned: String?
    /// A canary in progress.
    public var canary: Canary?
    /// An A/B split in progress, over two or more versions.
    public var split: [Variant]?
    /// Versions rolled back, with the reason: they take no unversioned traffic again until an
    /// operator promotes them.
    public var rolledBack: [String: String] = [:]

    /// A state with nothing decided.
    public init() {}

    /// Every ``mode``, in the order metrics list them.
    public static let modes = ["stable", "canary", "split", "pinned"]

    /// How unversioned traffic is shared: `pinned` (one version, by an operator), `split`,
    /// `canary`, or `stable` (the active version takes everything).
    public var mode: String {
        if pinned != nil { return "pinned" }
        if split != nil { return "split" }
        if canary != nil { return "canary" }
        return "stable"
    }

    /// Whether nothing is decided: the model serves its highest ready version.
    public var isDefault: Bool {
        active == nil && history.isEmpty && pinned == nil && canary == nil && split == nil && rolledBack.isEmpty
    }

    // MARK: Choosing a version

    /// The version that serves unversioned requests from callers outside a canary or split:
    /// the pin, else the active version if ready, else the highest ready version not rolled back.
    ///
    /// - Parameter ready: The model's ready versions, lowest to highest.
    public func activeVersion(ready: [String]) -> String? {
        if let pinned, ready.contains(pinned) { return pinned }
        if let active, ready.contains(active) { return active }
        return ready.last { rolledBack[$0] == nil }
    }

    /// The version an unversioned request from the caller in `bucket` goes to.
    ///
    /// - Parameters:
    ///   - bucket: The caller's place in `0..<10_000`, stable for a caller (see
    ///     ``bucket(of:model:)``), so a caller never flips between versions.
    ///   - ready: The model's ready versions, lowest to highest.
    public func version(forBucket bucket: Int, ready: [String]) -> String? {
        if let (variants, total) = liveSplit(ready: ready) {
            var edge = 0.0
            let point = Double(bucket) / 10_000 * total
            for variant in variants {
                edge += variant.weight
                if point < edge { return variant.version }
            }
            return variants.last?.version
        }
        if let canary = liveCanary(ready: ready), Double(bucket) < canary.percent * 100 {
            return canary.version
        }
        return activeVersion(ready: ready)
    }

    /// The percent of unversioned traffic each of the `ready` versions gets, as
    /// ``version(forBucket:ready:)`` shares the buckets out, lowest version first; versions that
    /// get none are left out.
    public func trafficShares(ready: [String]) -> [(version: String, percent: Double)] {
        var shares: [String: Double] = [:]
        if let (variants, total) = liveSplit(ready: ready) {
            for variant in variants { shares[variant.version, default: 0] += variant.weight / total * 100 }
        } else {
            let canary = liveCanary(ready: ready)
            let canaryPercent = canary.map { max(0, min(100, $0.percent)) } ?? 0
            if let canary, canaryPercent > 0 { shares[canary.version, default: 0] += canaryPercent }
            if let active = activeVersion(ready: ready), canaryPercent < 100 { shares[active, default: 0] += 100 - canaryPercent }
        }
        return ready.compactMap { version in shares[version].map { (version, $0) } }
    }

    /// The split's variants that take traffic (ready, with a positive weight) and their total
    /// weight, when a split is in force: not pinned, and some variant takes traffic.
    private func liveSplit(ready: [String]) -> (variants: [Variant], total: Double)? {
        guard pinned == nil, let split else { return nil }
        let variants = split.filter { ready.contains($0.version) && $0.weight > 0 }
        let total = variants.reduce(0) { $0 + $1.weight }
        return total > 0 ? (variants, total) : nil
    }

    /// The canary, when it is in force: not pinned, and its version ready.
    private func liveCanary(ready: [String]) -> Canary? {
        guard pinned == nil, let canary, ready.contains(canary.version) else { return nil }
        return canary
    }

    /// A caller's bucket for `model`: FNV-1a of the two, in `0..<10_000`.
    public static func bucket(of caller: String, model: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in model.utf8 + [0] + caller.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int(hash % 10_000)
    }

    // MARK: Changes

    /// What a change did, in words, for the operator.
    public typealias Summary = String

    /// A new version became ready: its manifest's rollout mode decides what it does.
    ///
    /// - Returns: What changed, or `nil` when the version only waits (manual, or rolled back).
    public mutating func versionBecameReady(_ version: String, rollout: RolloutSettings, ready: [String]) -> Summary? {
        guard rolledBack[version] == nil else { return nil }
        switch rollout.mode {
        case .manual:
            return nil
        case .auto:
            guard pinned == nil else { return nil }
            let current = activeVersion(ready: ready.filter { $0 != version })
            guard current != version else { return nil }
            if let current { history.append(current) }
            active = version
            canary = nil
            return "\(version) is active" + (current.map { " (was \($0))" } ?? "")
        case .canary:
            canary = Canary(version: version, percent: rollout.percent)
            return "\(version) takes \(Self.describe(rollout.percent)) of unversioned traffic as a canary"
        case .split:
            let current = activeVersion(ready: ready.filter { $0 != version })
            guard let current, current != version else { return nil }
            split = [Variant(version: current, weight: 100 - rollout.percent), Variant(version: version, weight: rollout.percent)]
            return "split: \(current) \(Self.describe(100 - rollout.percent)), \(version) \(Self.describe(rollout.percent))"
        }
    }

    /// Makes `version` active: it ends a canary of it, and clears it of a rollback.
    public mutating func promote(_ version: String, ready: [String]) throws(ModelHostError) -> Summary {
        try requireReady(version, ready)
        let current = activeVersion(ready: ready)
        rolledBack[version] = nil
        if canary?.version == version { canary = nil }
        if pinned != nil, pinned != version { pinned = version }
        guard current != version else { return "\(version) is active" }
        if let current { history.append(current) }
        active = version
        return "\(version) is active" + (current.map { " (was \($0))" } ?? "")
    }

    /// Turns back from the active version to `target`, or to the version active before it,
    /// marking the one left `rolled-back` with `reason`. Ends a canary or split.
    public mutating func rollback(to target: String?, reason: String, ready: [String]) throws(ModelHostError) -> Summary {
        guard let current = activeVersion(ready: ready) else {
            throw ModelHostError(.modelNotReady, "the model has no active version to roll back from")
        }
        let destination: String
        if let target {
            try requireReady(target, ready)
            destination = target
        } else {
            guard let previous = history.last(where: { $0 != current && ready.contains($0) }) else {
                throw ModelHostError(.invalidRequest, "there is no earlier ready version to roll back to from \(current); name one with --to")
            }
            destination = previous
        }
        guard destination != current else {
            throw ModelHostError(.invalidRequest, "\(destination) is already active")
        }
        rolledBack[current] = reason
        rolledBack[destination] = nil
        history.removeAll { $0 == destination }
        history.append(current)
        active = destination
        if pinned != nil { pinned = destination }
        canary = nil
        split = nil
        return "\(destination) is active (was \(current), now rolled-back: \(reason))"
    }

    /// Rolls a canary or the newest activation back by itself: the watch found it unhealthy.
    ///
    /// - Returns: What changed, or `nil` when `version` no longer takes unversioned traffic.
    public mutating func rollBackUnhealthy(_ version: String, reason: String, ready: [String]) -> Summary? {
        if canary?.version == version {
            canary = nil
            rolledBack[version] = reason
            return "canary \(version) rolled back: \(reason)"
        }
        if let variants = split, variants.contains(where: { $0.version == version }) {
            let rest = variants.filter { $0.version != version }
            split = rest.count >= 2 ? rest : nil
            rolledBack[version] = reason
            return "\(version) left the split: \(reason)"
        }
        guard activeVersion(ready: ready) == version, pinned != version else { return nil }
        return try? rollback(to: nil, reason: reason, ready: ready)
    }

    /// Pins `version` active until ``unpin()``.
    public mutating func pin(_ version: String, ready: [String]) throws(ModelHostError) -> Summary {
        try requireReady(version, ready)
        let current = activeVersion(ready: ready)
        if let current, current != version { history.append(current) }
        pinned = version
        active = version
        return "\(version) is pinned" + (current.flatMap { $0 == version ? nil : " (was \($0))" } ?? "")
    }

    /// Removes the pin; the active version stays as it is.
    public mutating func unpin() throws(ModelHostError) -> Summary {
        guard let pinned else { throw ModelHostError(.invalidRequest, "no version is pinned") }
        self.pinned = nil
        return "\(pinned) is no longer pinned"
    }

    /// Starts (or changes) a canary of `version` at `percent`.
    public mutating func startCanary(_ version: String, percent: Double, ready: [String]) throws(ModelHostError) -> Summary {
        try requireReady(version, ready)
        guard percent > 0, percent < 100 else {
            throw ModelHostError(.invalidRequest, "a canary takes more than 0 and less than 100 percent, not \(Self.describe(percent))")
        }
        guard activeVersion(ready: ready) != version else {
            throw ModelHostError(.invalidRequest, "\(version) is already active; a canary is a version beside the active one")
        }
        rolledBack[version] = nil
        canary = Canary(version: version, percent: percent)
        split = nil
        return "\(version) takes \(Self.describe(percent)) of unversioned traffic as a canary"
    }

    /// Splits unversioned traffic over two or more versions by weight.
    public mutating func startSplit(_ variants: [Variant], ready: [String]) throws(ModelHostError) -> Summary {
        guard variants.count >= 2, Set(variants.map(\.version)).count == variants.count else {
            throw ModelHostError(.invalidRequest, "a split needs two or more different versions")
        }
        for variant in variants {
            try requireReady(variant.version, ready)
            guard variant.weight > 0, variant.weight.isFinite else {
                throw ModelHostError(.invalidRequest, "the weight of \(variant.version) must be a positive number")
            }
            rolledBack[variant.version] = nil
        }
        split = variants
        canary = nil
        return "split: " + variants.map { "\($0.version)=\($0.weight.rounded() == $0.weight ? String(Int($0.weight)) : String($0.weight))" }.joined(separator: ", ")
    }

    /// Forgets a version that left: it is no longer active, pinned, a canary or in a split.
    public mutating func forget(_ version: String) {
        if active == version { active = nil }
        if pinned == version { pinned = nil }
        if canary?.version == version { canary = nil }
        if let variants = split {
            let rest = variants.filter { $0.version != version }
            split = rest.count >= 2 ? rest : nil
        }
        history.removeAll { $0 == version }
        rolledBack[version] = nil
    }

    private func requireReady(_ version: String, _ ready: [String]) throws(ModelHostError) {
        guard ready.contains(version) else {
            let known = ready.isEmpty ? "none" : ready.joined(separator: ", ")
            throw ModelHostError(.modelNotReady, "version \(version) is not ready (ready: \(known))")
        }
    }

    private static func describe(_ value: Double) -> String {
        value.rounded() == value ? "\(Int(value))%" : "\(value)%"
    }
}
