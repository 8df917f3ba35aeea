import ModelHostCore
import ModelManifest
import ModelRegistry
import Testing

/// Which version unversioned requests get, and how each operator change and each new version
/// moves it: without threads, files or a server.
struct RolloutStateTests {
    private func settings(_ mode: RolloutSettings.Mode, percent: Double = 10) -> RolloutSettings {
        var settings = RolloutSettings()
        settings.mode = mode
        settings.percent = percent
        return settings
    }

    @Test func withoutAnythingDecidedTheHighestReadyVersionIsActive() {
        let state = RolloutState()
        #expect(state.isDefault)
        #expect(state.activeVersion(ready: ["1.0.0", "1.1.0"]) == "1.1.0")
        #expect(state.activeVersion(ready: []) == nil)
    }

    @Test func eachModeDecidesWhatANewVersionDoes() {
        var auto = RolloutState()
        _ = auto.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        #expect(auto.versionBecameReady("1.1.0", rollout: settings(.auto), ready: ["1.0.0", "1.1.0"]) == "1.1.0 is active (was 1.0.0)")
        #expect(auto.activeVersion(ready: ["1.0.0", "1.1.0"]) == "1.1.0")
        #expect(auto.history == ["1.0.0"])

        var manual = RolloutState()
        _ = manual.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        #expect(manual.versionBecameReady("1.1.0", rollout: settings(.manual), ready: ["1.0.0", "1.1.0"]) == nil)
        #expect(manual.activeVersion(ready: ["1.0.0", "1.1.0"]) == "1.0.0")

        var canary = RolloutState()
        _ = canary.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = canary.versionBecameReady("1.1.0", rollout: settings(.canary, percent: 25), ready: ["1.0.0", "1.1.0"])
        #expect(canary.canary == RolloutState.Canary(version: "1.1.0", percent: 25))
        #expect(canary.activeVersion(ready: ["1.0.0", "1.1.0"]) == "1.0.0")

        var split = RolloutState()
        _ = split.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = split.versionBecameReady("1.1.0", rollout: settings(.split, percent: 40), ready: ["1.0.0", "1.1.0"])
        #expect(split.split == [.init(version: "1.0.0", weight: 60), .init(version: "1.1.0", weight: 40)])
    }

    @Test func aCanaryTakesItsShareAndKeepsEachCallerOnOneVersion() {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0"]
        _ = state.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = try? state.startCanary("1.1.0", percent: 30, ready: ready)
        var canaryCallers = 0
        for caller in 0..<10_000 {
            let bucket = RolloutState.bucket(of: "key-\(caller)", model: "intent")
            let version = state.version(forBucket: bucket, ready: ready)
            #expect(version == state.version(forBucket: RolloutState.bucket(of: "key-\(caller)", model: "intent"), ready: ready))
            if version == "1.1.0" { canaryCallers += 1 }
        }
        // 30 % of 10,000 callers, within ±3 points (the binomial's spread is 0.46 points).
        #expect((2_700...3_300).contains(canaryCallers), "\(canaryCallers) of 10000 callers on the canary")
    }

    @Test func aSplitFollowsItsWeights() {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0", "2.0.0"]
        _ = try? state.startSplit([.init(version: "1.0.0", weight: 1), .init(version: "1.1.0", weight: 1), .init(version: "2.0.0", weight: 2)], ready: ready)
        var counts: [String: Int] = [:]
        for caller in 0..<20_000 {
            let version = state.version(forBucket: RolloutState.bucket(of: "10.0.\(caller / 256).\(caller % 256)", model: "m"), ready: ready) ?? "none"
            counts[version, default: 0] += 1
        }
        #expect((4_500...5_500).contains(counts["1.0.0"] ?? 0))
        #expect((4_500...5_500).contains(counts["1.1.0"] ?? 0))
        #expect((9_500...10_500).contains(counts["2.0.0"] ?? 0))
        // A variant that is not ready drops out; the others share its traffic.
        #expect(state.version(forBucket: 9_999, ready: ["1.0.0", "1.1.0"]) == "1.1.0")
    }

    @Test func rollbackGoesToThePreviousVersionAndMarksTheOneLeft() throws {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0", "1.2.0"]
        for (index, version) in ready.enumerated() {
            _ = state.versionBecameReady(version, rollout: settings(.auto), ready: Array(ready[...index]))
        }
        #expect(try state.rollback(to: nil, reason: "bad answers", ready: ready) == "1.1.0 is active (was 1.2.0, now rolled-back: bad answers)")
        #expect(state.activeVersion(ready: ready) == "1.1.0")
        #expect(state.rolledBack == ["1.2.0": "bad answers"])
        // Rolled back, it never becomes active by itself again, not even as the highest ready.
        #expect(state.versionBecameReady("1.2.0", rollout: settings(.auto), ready: ready) == nil)
        state.active = nil
        #expect(state.activeVersion(ready: ready) == "1.1.0")
        // Until an operator promotes it.
        _ = try state.promote("1.2.0", ready: ready)
        #expect(state.rolledBack.isEmpty)
        #expect(state.activeVersion(ready: ready) == "1.2.0")
        #expect(try state.rollback(to: "1.0.0", reason: "older is better", ready: ready).hasPrefix("1.0.0 is active"))
    }

    @Test func changesThatCannotActSayWhy() {
        var state = RolloutState()
        #expect(throws: ModelHostError.self) { try state.rollback(to: nil, reason: "x", ready: []) }
        #expect(throws: ModelHostError.self) { try state.rollback(to: nil, reason: "x", ready: ["1.0.0"]) }
        #expect(throws: ModelHostError.self) { try state.promote("9.9.9", ready: ["1.0.0"]) }
        #expect(throws: ModelHostError.self) { try state.startCanary("1.0.0", percent: 10, ready: ["1.0.0"]) }
        #expect(throws: ModelHostError.self) { try state.startCanary("1.1.0", percent: 100, ready: ["1.0.0", "1.1.0"]) }
        #expect(throws: ModelHostError.self) { try state.startSplit([.init(version: "1.0.0", weight: 1)], ready: ["1.0.0"]) }
        #expect(throws: ModelHostError.self) { try state.unpin() }
        #expect(state.isDefault)
    }

    @Test func aPinHoldsAgainstNewVersionsAndCanaries() throws {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0"]
        _ = state.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = try state.pin("1.0.0", ready: ["1.0.0"])
        #expect(state.versionBecameReady("1.1.0", rollout: settings(.auto), ready: ready) == nil)
        _ = try state.startCanary("1.1.0", percent: 50, ready: ready)
        #expect((0..<10_000).allSatisfy { state.version(forBucket: $0, ready: ready) == "1.0.0" })
        _ = try state.unpin()
        #expect(state.version(forBucket: 0, ready: ready) == "1.1.0")
    }

    @Test func anUnhealthyCanaryOrActivationIsRolledBackBySelf() {
        var canary = RolloutState()
        let ready = ["1.0.0", "1.1.0"]
        _ = canary.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = canary.versionBecameReady("1.1.0", rollout: settings(.canary), ready: ready)
        #expect(canary.rollBackUnhealthy("1.1.0", reason: "its breaker opened", ready: ready) == "canary 1.1.0 rolled back: its breaker opened")
        #expect(canary.canary == nil)
        #expect(canary.rolledBack["1.1.0"] == "its breaker opened")

        var auto = RolloutState()
        _ = auto.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = auto.versionBecameReady("1.1.0", rollout: settings(.auto), ready: ready)
        #expect(auto.rollBackUnhealthy("1.1.0", reason: "error ratio 0.4", ready: ready)?.hasPrefix("1.0.0 is active") == true)
        #expect(auto.activeVersion(ready: ready) == "1.0.0")
        // A version no longer taking unversioned traffic is left alone.
        #expect(auto.rollBackUnhealthy("1.1.0", reason: "again", ready: ready) == nil)
    }

    @Test func aRemovedVersionIsForgotten() {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0"]
        _ = state.versionBecameReady("1.0.0", rollout: settings(.auto), ready: ["1.0.0"])
        _ = state.versionBecameReady("1.1.0", rollout: settings(.auto), ready: ready)
        state.forget("1.1.0")
        #expect(state.activeVersion(ready: ["1.0.0"]) == "1.0.0")
        #expect(state.history == ["1.0.0"])
    }
}
