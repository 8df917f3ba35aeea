import ModelHostTestKit
import ModelManifest
import ModelRegistry
import Testing

/// What the watch over newly serving versions decides, against an injected clock.
struct RolloutWatchTests {
    typealias Watch = RolloutWatch<ManualClock.Instant>

    private func at(_ seconds: Int) -> ManualClock.Instant { ManualClock.Instant(offset: .seconds(seconds)) }

    private func health(_ version: String, canary: Bool = false, breakerOpen: Bool = false, ok: Int = 0, failed: Int = 0) -> Watch.Health {
        var settings = RolloutSettings()
        settings.watchMilliseconds = 60_000
        settings.maxErrorRate = 0.1
        settings.minimumRequests = 10
        return .init(version: version, isCanary: canary, isBreakerOpen: breakerOpen, succeeded: ok, failed: failed, settings: settings)
    }

    @Test func versionsServingAtStartAreEstablished() {
        var watch = Watch()
        #expect(watch.observe(["m": [health("1.0.0", breakerOpen: true)]], now: at(0)).isEmpty)
        #expect(watch.watchedVersions.isEmpty)
    }

    @Test func aNewVersionWhoseBreakerOpensIsRolledBack() {
        var watch = Watch()
        _ = watch.observe(["m": [health("1.0.0")]], now: at(0))
        #expect(watch.observe(["m": [health("1.1.0")]], now: at(1)).isEmpty)
        #expect(watch.watchedVersions == ["m": ["1.1.0"]])
        #expect(watch.observe(["m": [health("1.1.0", breakerOpen: true)]], now: at(2)) == [
            .rollBack(model: "m", version: "1.1.0", reason: "its breaker opened during its watch"),
        ])
    }

    @Test func theErrorRatioIsJudgedFromTheWatchsStartOnceItHasEnoughRequests() {
        var watch = Watch()
        _ = watch.observe(["m": [health("1.0.0")]], now: at(0))
        // Failures before the watch began do not count.
        _ = watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true, ok: 0, failed: 50)]], now: at(1))
        #expect(watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true, ok: 8, failed: 51)]], now: at(2)).isEmpty)
        // 2 of 10 failed: over 0.1.
        #expect(watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true, ok: 8, failed: 52)]], now: at(3)) == [
            .rollBack(model: "m", version: "1.1.0", reason: "error ratio 0.2 over 10 requests passed rollout.maxErrorRate 0.1 during its watch"),
        ])
    }

    @Test func aHealthyCanaryIsPromotedAtTheEndOfItsWatchAndAnActivationIsLetGo() {
        var watch = Watch()
        _ = watch.observe(["m": [health("1.0.0")], "n": [health("2.0.0")]], now: at(0))
        _ = watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true)], "n": [health("2.1.0")]], now: at(1))
        #expect(watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true, ok: 100)], "n": [health("2.1.0", ok: 100)]], now: at(60)).isEmpty)
        #expect(watch.observe(["m": [health("1.0.0"), health("1.1.0", canary: true, ok: 200, failed: 1)], "n": [health("2.1.0", ok: 200)]], now: at(61)) == [
            .promote(model: "m", version: "1.1.0"),
        ])
        #expect(watch.watchedVersions.isEmpty)
        // After its watch, a version's breaker opening is the breaker's business only.
        #expect(watch.observe(["m": [health("1.1.0", breakerOpen: true)], "n": [health("2.1.0", breakerOpen: true)]], now: at(62)).isEmpty)
    }

    @Test func theVersionARollbackReturnsToIsNotWatched() {
        var watch = Watch()
        _ = watch.observe(["m": [health("1.0.0")]], now: at(0))
        _ = watch.observe(["m": [health("1.1.0")]], now: at(1))
        watch.markEstablished(model: "m", version: "1.0.0")
        #expect(watch.observe(["m": [health("1.0.0", breakerOpen: true)]], now: at(2)).isEmpty)
    }
}
