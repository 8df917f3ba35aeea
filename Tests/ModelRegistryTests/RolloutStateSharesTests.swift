import ModelHostCore
import ModelRegistry
import Testing

/// Who gets which version under a canary or split: the shares over many callers, and each
/// caller's version staying the same, at the level of ``RolloutState`` with many caller names.
@Suite struct RolloutStateSharesTests {
    private static let ready = ["1.0.0", "1.1.0"]
    /// 10,000 distinct callers, as key ids or addresses would be.
    private static let callers = (0..<10_000).map { "caller-\($0)" }

    /// How many of `callers` `state` sends to each version of `model`.
    private static func counts(_ state: RolloutState, model: String = "echo", callers: [String] = callers) -> [String: Int] {
        var counts: [String: Int] = [:]
        for caller in callers {
            let version = state.version(forBucket: RolloutState.bucket(of: caller, model: model), ready: ready) ?? "none"
            counts[version, default: 0] += 1
        }
        return counts
    }

    @Test func bucketsAreStableAndInRange() {
        for caller in Self.callers.prefix(1000) {
            let bucket = RolloutState.bucket(of: caller, model: "echo")
            #expect((0..<10_000).contains(bucket))
            #expect(RolloutState.bucket(of: caller, model: "echo") == bucket)
        }
        // A model name is part of the hash: the same callers fall elsewhere for another model.
        let echo = Self.callers.prefix(1000).map { RolloutState.bucket(of: $0, model: "echo") }
        let other = Self.callers.prefix(1000).map { RolloutState.bucket(of: $0, model: "intent-classifier") }
        #expect(zip(echo, other).filter { $0 == $1 }.count < 10)
    }

    @Test func aCanaryAt30PercentTakesAbout30PercentOfCallersEachAlwaysOnOneVersion() throws {
        var state = RolloutState()
        _ = try state.promote("1.0.0", ready: Self.ready)
        let summary = try state.startCanary("1.1.0", percent: 30, ready: Self.ready)
        #expect(summary == "1.1.0 takes 30% of unversioned traffic as a canary")
        let counts = Self.counts(state)
        #expect(counts.values.reduce(0, +) == 10_000)
        let share = Double(counts["1.1.0", default: 0]) / 100
        #expect(abs(share - 30) <= 5, "canary share \(share)%")
        #expect(counts["1.0.0", default: 0] + counts["1.1.0", default: 0] == 10_000)

        // Asked again, every caller gets the version it got before.
        let first = Self.callers.map { state.version(forBucket: RolloutState.bucket(of: $0, model: "echo"), ready: Self.ready) }
        let again = Self.callers.map { state.version(forBucket: RolloutState.bucket(of: $0, model: "echo"), ready: Self.ready) }
        #expect(first == again)

        // Widening the canary keeps every caller it had: none flips back.
        var wider = state
        _ = try wider.startCanary("1.1.0", percent: 50, ready: Self.ready)
        for (caller, before) in zip(Self.callers, first) where before == "1.1.0" {
            #expect(wider.version(forBucket: RolloutState.bucket(of: caller, model: "echo"), ready: Self.ready) == "1.1.0")
        }
        let widerShare = Double(Self.counts(wider)["1.1.0", default: 0]) / 100
        #expect(abs(widerShare - 50) <= 5, "canary share \(widerShare)%")
    }

    @Test(arguments: [(50.0, 50.0), (90.0, 10.0), (1.0, 3.0)])
    func aSplitSharesCallersByWeight(first: Double, second: Double) throws {
        var state = RolloutState()
        _ = try state.startSplit([.init(version: "1.0.0", weight: first), .init(version: "1.1.0", weight: second)], ready: Self.ready)
        let counts = Self.counts(state)
        let share = Double(counts["1.1.0", default: 0]) / 100
        let expected = second / (first + second) * 100
        #expect(abs(share - expected) <= 5, "split share \(share)%, expected \(expected)%")
        #expect(counts["1.0.0", default: 0] + counts["1.1.0", default: 0] == 10_000)
    }

    @Test func aPinOverridesACanaryAndASplitForEveryCaller() throws {
        var state = RolloutState()
        _ = try state.promote("1.0.0", ready: Self.ready)
        _ = try state.startCanary("1.1.0", percent: 30, ready: Self.ready)
        _ = try state.pin("1.0.0", ready: Self.ready)
        #expect(Self.counts(state) == ["1.0.0": 10_000])
        _ = try state.startSplit([.init(version: "1.0.0", weight: 1), .init(version: "1.1.0", weight: 1)], ready: Self.ready)
        #expect(Self.counts(state) == ["1.0.0": 10_000])
        // Unpinned, the split takes effect again.
        _ = try state.unpin()
        #expect(Self.counts(state)["1.1.0", default: 0] > 4000)
    }

    @Test func aRollbackEndsTheCanaryForEveryCaller() throws {
        var state = RolloutState()
        _ = try state.promote("1.0.0", ready: Self.ready)
        _ = try state.promote("1.1.0", ready: Self.ready)
        _ = try state.startSplit([.init(version: "1.0.0", weight: 1), .init(version: "1.1.0", weight: 1)], ready: Self.ready)
        let summary = try state.rollback(to: nil, reason: "rolled back by an operator", ready: Self.ready)
        #expect(summary == "1.0.0 is active (was 1.1.0, now rolled-back: rolled back by an operator)")
        #expect(Self.counts(state) == ["1.0.0": 10_000])
        #expect(state.rolledBack == ["1.1.0": "rolled back by an operator"])
    }

    @Test func trafficSharesAreWhatTheBucketsGive() throws {
        var canary = RolloutState()
        _ = try canary.promote("1.0.0", ready: Self.ready)
        _ = try canary.startCanary("1.1.0", percent: 30, ready: Self.ready)
        var split = RolloutState()
        _ = try split.startSplit([.init(version: "1.0.0", weight: 1), .init(version: "1.1.0", weight: 3)], ready: Self.ready)
        var pinned = canary
        _ = try pinned.pin("1.0.0", ready: Self.ready)
        var wide = RolloutState()
        _ = try wide.promote("1.0.0", ready: Self.ready)
        _ = try wide.startCanary("1.1.0", percent: 99.5, ready: Self.ready)
        for state in [RolloutState(), canary, split, pinned, wide] {
            // Every bucket once: the share of each version, in percent.
            var buckets: [String: Int] = [:]
            for bucket in 0..<10_000 {
                if let version = state.version(forBucket: bucket, ready: Self.ready) { buckets[version, default: 0] += 1 }
            }
            let shares = state.trafficShares(ready: Self.ready)
            #expect(shares.map(\.version) == Self.ready.filter { buckets[$0] != nil }, "\(state.mode)")
            for (version, percent) in shares {
                #expect(abs(percent - Double(buckets[version] ?? 0) / 100) < 1e-9, "\(state.mode): \(version)")
            }
        }
    }
}
