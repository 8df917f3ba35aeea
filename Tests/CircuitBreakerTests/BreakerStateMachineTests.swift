import CircuitBreaker
import ModelHostTestKit
import ModelManifest
import Testing

/// Every rule of ``BreakerStateMachine``, at exact instants of a ``ManualClock``: when it opens,
/// how long it stays open, how probes decide, stale permits, and the operator's overrides.
@Suite("Breaker state machine")
struct BreakerStateMachineTests {
    typealias Machine = BreakerStateMachine<ManualClock.Instant>
    typealias Instant = ManualClock.Instant

    static let start = Instant(offset: .seconds(100))

    /// The manifest's defaults with `change` applied.
    static func configuration(_ change: (inout Machine.Configuration) -> Void = { _ in }) -> Machine.Configuration {
        var configuration = Machine.Configuration(BreakerSettings())
        change(&configuration)
        return configuration
    }

    /// A machine judging only the failure rate: the consecutive-failure rule is out of reach.
    static func rateOnly(minimumCalls: Int, windowSize: Int, threshold: Double) -> Machine {
        Machine(configuration: configuration {
            $0.minimumCalls = minimumCalls
            $0.windowSize = windowSize
            $0.failureRateThreshold = threshold
            $0.consecutiveFailures = 100_000
        })
    }

    /// A machine that opens on its first failure, for `openDuration`.
    static func opensOnFirstFailure(
        openDuration: Duration = .seconds(30),
        multiplier: Double = 1,
        maxOpenDuration: Duration = .seconds(300),
        probes: Int = 3
    ) -> Machine {
        Machine(configuration: configuration {
            $0.consecutiveFailures = 1
            $0.openDuration = openDuration
            $0.openDurationMultiplier = multiplier
            $0.maxOpenDuration = maxOpenDuration
            $0.halfOpenProbes = probes
        })
    }

    // MARK: Closed

    @Test("stays closed below minimumCalls even when every call fails")
    func belowMinimumCalls() {
        var machine = Self.rateOnly(minimumCalls: 10, windowSize: 10, threshold: 0.5)
        for _ in 0..<9 {
            #expect(machine.call(.failure, now: Self.start) == nil)
        }
        let snapshot = machine.snapshot(now: Self.start)
        #expect(snapshot.phase == .closed)
        #expect(snapshot.callsInWindow == 9)
        #expect(snapshot.failureRate == 1)
        #expect(snapshot.consecutiveFailures == 9)
        #expect(machine.call(.failure, now: Self.start) == BreakerTransition(from: .closed, to: .open, reason: .failureRate(1)))
    }

    @Test("opens when the failure rate reaches the threshold, and not one call before")
    func failureRate() {
        var machine = Self.rateOnly(minimumCalls: 4, windowSize: 10, threshold: 0.5)
        for _ in 0..<3 {
            #expect(machine.call(.success, now: Self.start) == nil)
        }
        #expect(machine.call(.failure, now: Self.start) == nil)  // 1 of 4
        #expect(machine.call(.failure, now: Self.start) == nil)  // 2 of 5
        #expect(machine.snapshot(now: Self.start).failureRate == 0.4)
        let transition = machine.call(.failure, now: Self.start)  // 3 of 6
        #expect(transition == BreakerTransition(from: .closed, to: .open, reason: .failureRate(0.5)))
        #expect(transition?.description == "closed → open: failure rate 50%")
        #expect(machine.phase == .open)
    }

    @Test("the window holds only the last windowSize outcomes")
    func slidingWindow() {
        var machine = Self.rateOnly(minimumCalls: 4, windowSize: 4, threshold: 0.5)
        #expect(machine.call(.failure, now: Self.start) == nil)
        for _ in 0..<4 {
            #expect(machine.call(.success, now: Self.start) == nil)
        }
        // The failure has left the window: four successes.
        #expect(machine.snapshot(now: Self.start).callsInWindow == 4)
        #expect(machine.snapshot(now: Self.start).failureRate == 0)
        #expect(machine.call(.failure, now: Self.start) == nil)  // S S S F
        #expect(machine.snapshot(now: Self.start).failureRate == 0.25)
        #expect(machine.call(.failure, now: Self.start) == BreakerTransition(from: .closed, to: .open, reason: .failureRate(0.5)))
    }

    @Test("ignored outcomes never enter the window")
    func ignoredOutcomesInClosed() {
        var machine = Self.rateOnly(minimumCalls: 2, windowSize: 2, threshold: 1)
        #expect(machine.call(.failure, now: Self.start) == nil)
        for _ in 0..<10 {
            #expect(machine.call(.ignored, now: Self.start) == nil)
        }
        #expect(machine.snapshot(now: Self.start).callsInWindow == 1)
        #expect(machine.snapshot(now: Self.start).consecutiveFailures == 1)
        #expect(machine.call(.failure, now: Self.start)?.to == .open)
    }

    @Test("opens on consecutiveFailures in a row; a success in between resets the run")
    func consecutiveFailures() {
        var machine = Machine(configuration: Self.configuration {
            $0.consecutiveFailures = 3
            $0.minimumCalls = 100
            $0.windowSize = 100
        })
        #expect(machine.call(.failure, now: Self.start) == nil)
        #expect(machine.call(.failure, now: Self.start) == nil)
        #expect(machine.call(.success, now: Self.start) == nil)
        #expect(machine.snapshot(now: Self.start).consecutiveFailures == 0)
        #expect(machine.call(.failure, now: Self.start) == nil)
        #expect(machine.call(.failure, now: Self.start) == nil)
        let transition = machine.call(.failure, now: Self.start)
        #expect(transition == BreakerTransition(from: .closed, to: .open, reason: .consecutiveFailures(3)))
        #expect(transition?.description == "closed → open: 3 consecutive failures")
    }

    @Test("the slow-call rate opens it when configured; a call of exactly slowCallDuration is slow")
    func slowCallRate() {
        var machine = Machine(configuration: Self.configuration {
            $0.slowCallRateThreshold = 0.5
            $0.slowCallDuration = .milliseconds(100)
            $0.minimumCalls = 4
            $0.windowSize = 4
            $0.failureRateThreshold = 1
            $0.consecutiveFailures = 100_000
        })
        #expect(machine.call(.success, duration: .milliseconds(100), now: Self.start) == nil)
        #expect(machine.call(.success, duration: .milliseconds(99), now: Self.start) == nil)
        #expect(machine.call(.failure, duration: .milliseconds(99), now: Self.start) == nil)
        // Failed calls count as slow too.
        let transition = machine.call(.failure, duration: .seconds(5), now: Self.start)
        #expect(transition == BreakerTransition(from: .closed, to: .open, reason: .slowCallRate(0.5)))
        #expect(transition?.description == "closed → open: slow-call rate 50%")
    }

    @Test("a slow-call threshold of 1 never opens it, however slow every call is")
    func slowCallRateOfOne() {
        var machine = Machine(configuration: Self.configuration {
            $0.slowCallRateThreshold = 1
            $0.slowCallDuration = .milliseconds(100)
            $0.minimumCalls = 4
            $0.windowSize = 4
        })
        for _ in 0..<50 {
            #expect(machine.call(.success, duration: .seconds(60), now: Self.start) == nil)
        }
        #expect(machine.phase == .closed)
    }

    // MARK: Open

    @Test("refuses while open, reporting exactly the time left")
    func refusesWhileOpen() {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30))
        #expect(machine.call(.failure, now: Self.start)?.to == .open)
        let later = Self.start.advanced(by: .seconds(10))
        #expect(machine.refusal(now: later) == .refused(retryAfter: .seconds(20)))
        #expect(machine.acquire(now: later).decision == .refused(retryAfter: .seconds(20)))
        #expect(machine.acquire(now: later).transition == nil)
        let snapshot = machine.snapshot(now: later)
        #expect(snapshot.phase == .open)
        #expect(snapshot.retryAfter == .seconds(20))
        #expect(snapshot.opens == 1)
        let lastMoment = Self.start.advanced(by: .seconds(30) - .nanoseconds(1))
        #expect(machine.refusal(now: lastMoment) == .refused(retryAfter: .nanoseconds(1)))
    }

    @Test("half-opens only once the open duration has passed, not 1 ns before")
    func halfOpensAfterOpenDuration() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30))
        _ = machine.call(.failure, now: Self.start)
        let due = Self.start.advanced(by: .seconds(30))
        let justBefore = due.advanced(by: .nanoseconds(-1))
        #expect(machine.acquire(now: justBefore) == (.refused(retryAfter: .nanoseconds(1)), nil))
        #expect(machine.phase == .open)
        // Time up: a call may proceed, but nothing moves until it is acquired.
        #expect(machine.refusal(now: due) == nil)
        #expect(machine.snapshot(now: due).retryAfter == .zero)
        #expect(machine.phase == .open)
        let (decision, transition) = machine.acquire(now: due)
        #expect(transition == BreakerTransition(from: .open, to: .halfOpen, reason: .openDurationElapsed))
        #expect(transition?.description == "open → half-open: open duration elapsed")
        #expect(decision.permit != nil)
        #expect(machine.phase == .halfOpen)
        #expect(machine.snapshot(now: due).retryAfter == nil)
    }

    // MARK: Half-open

    @Test("admits exactly halfOpenProbes probes, then refuses for the shorter of openDuration and 1 s")
    func admitsExactlyTheProbes() {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30), probes: 3)
        let (due, probe) = machine.halfOpen(failingAt: Self.start, after: .seconds(30))
        #expect(probe != nil)
        #expect(machine.acquire(now: due).decision.permit != nil)
        #expect(machine.acquire(now: due).decision.permit != nil)
        #expect(machine.refusal(now: due) == .refused(retryAfter: .seconds(1)))
        #expect(machine.acquire(now: due).decision == .refused(retryAfter: .seconds(1)))

        var short = Self.opensOnFirstFailure(openDuration: .milliseconds(200), probes: 1)
        let (shortDue, _) = short.halfOpen(failingAt: Self.start, after: .milliseconds(200))
        #expect(short.acquire(now: shortDue).decision == .refused(retryAfter: .milliseconds(200)))
    }

    @Test("closes after halfOpenProbes successes, with an empty window")
    func closesAfterProbes() throws {
        var machine = Machine(configuration: Self.configuration {
            $0.consecutiveFailures = 3
            $0.openDuration = .seconds(30)
            $0.halfOpenProbes = 3
        })
        for _ in 0..<3 {
            _ = machine.call(.failure, now: Self.start)
        }
        let due = Self.start.advanced(by: .seconds(30))
        let first = try #require(machine.acquire(now: due).decision.permit)
        let second = try #require(machine.acquire(now: due).decision.permit)
        let third = try #require(machine.acquire(now: due).decision.permit)
        #expect(machine.record(.success, duration: .milliseconds(5), for: first, now: due) == nil)
        #expect(machine.record(.success, duration: .milliseconds(5), for: second, now: due) == nil)
        #expect(machine.phase == .halfOpen)
        let transition = machine.record(.success, duration: .milliseconds(5), for: third, now: due)
        #expect(transition == BreakerTransition(from: .halfOpen, to: .closed, reason: .probesSucceeded))
        #expect(transition?.description == "half-open → closed: probes succeeded")
        let snapshot = machine.snapshot(now: due)
        #expect(snapshot == BreakerSnapshot(phase: .closed, retryAfter: nil, callsInWindow: 0, failureRate: 0, consecutiveFailures: 0, opens: 1))
        // The run of failures started afresh: two more do not open it.
        #expect(machine.call(.failure, now: due) == nil)
        #expect(machine.call(.failure, now: due) == nil)
        #expect(machine.call(.failure, now: due)?.to == .open)
    }

    @Test("a probe failure reopens at once, for longer each time when growth is configured, capped at the maximum")
    func reopensWithGrowth() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(1), multiplier: 2, maxOpenDuration: .seconds(5), probes: 2)
        _ = machine.call(.failure, now: Self.start)
        var now = Self.start.advanced(by: .seconds(1))
        for expected in [Duration.seconds(2), .seconds(4), .seconds(5), .seconds(5)] {
            let probe = try #require(machine.acquire(now: now).decision.permit)
            #expect(machine.phase == .halfOpen)
            now = now.advanced(by: .milliseconds(250))
            #expect(machine.record(.failure, duration: .milliseconds(250), for: probe, now: now) == BreakerTransition(from: .halfOpen, to: .open, reason: .probeFailed))
            #expect(machine.snapshot(now: now).retryAfter == expected)
            #expect(machine.acquire(now: now.advanced(by: expected - .nanoseconds(1))).decision == .refused(retryAfter: .nanoseconds(1)))
            now = now.advanced(by: expected)
        }
        #expect(machine.snapshot(now: now).opens == 5)
        // Closing undoes the growth: the next open lasts openDuration again.
        let first = try #require(machine.acquire(now: now).decision.permit)
        let second = try #require(machine.acquire(now: now).decision.permit)
        _ = machine.record(.success, duration: .zero, for: first, now: now)
        #expect(machine.record(.success, duration: .zero, for: second, now: now)?.to == .closed)
        _ = machine.call(.failure, now: now)
        #expect(machine.snapshot(now: now).retryAfter == .seconds(1))
    }

    @Test("a multiplier of 1 keeps the open duration constant")
    func constantOpenDuration() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(3), multiplier: 1, maxOpenDuration: .seconds(300))
        _ = machine.call(.failure, now: Self.start)
        var now = Self.start
        for _ in 0..<3 {
            now = now.advanced(by: .seconds(3))
            let probe = try #require(machine.acquire(now: now).decision.permit)
            _ = machine.record(.failure, duration: .zero, for: probe, now: now)
            #expect(machine.snapshot(now: now).retryAfter == .seconds(3))
        }
    }

    @Test("growth by a fraction is exact to the nanosecond")
    func fractionalGrowth() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .milliseconds(100), multiplier: 1.5, maxOpenDuration: .seconds(1))
        _ = machine.call(.failure, now: Self.start)
        var now = Self.start.advanced(by: .milliseconds(100))
        for expected in [Duration.milliseconds(150), .milliseconds(225), .microseconds(337_500), .microseconds(506_250), .microseconds(759_375), .seconds(1)] {
            let probe = try #require(machine.acquire(now: now).decision.permit)
            _ = machine.record(.failure, duration: .zero, for: probe, now: now)
            #expect(machine.snapshot(now: now).retryAfter == expected)
            now = now.advanced(by: expected)
        }
    }

    @Test("an ignored probe frees its slot without counting as a success")
    func ignoredProbe() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30), probes: 2)
        let due = Self.start.advanced(by: .seconds(30))
        _ = machine.call(.failure, now: Self.start)
        let first = try #require(machine.acquire(now: due).decision.permit)
        let second = try #require(machine.acquire(now: due).decision.permit)
        #expect(machine.acquire(now: due).decision.permit == nil)
        #expect(machine.record(.ignored, duration: .zero, for: first, now: due) == nil)
        #expect(machine.phase == .halfOpen)
        let third = try #require(machine.acquire(now: due).decision.permit)
        #expect(machine.acquire(now: due).decision.permit == nil)
        // Had the ignored probe counted, this success would close it.
        #expect(machine.record(.success, duration: .zero, for: second, now: due) == nil)
        #expect(machine.phase == .halfOpen)
        #expect(machine.record(.success, duration: .zero, for: third, now: due)?.to == .closed)
    }

    @Test("an outcome of a permit from before the open is ignored: no probe result, no slot freed")
    func stalePermit() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30), probes: 1)
        let slowCall = try #require(machine.acquire(now: Self.start).decision.permit)
        _ = machine.call(.failure, now: Self.start)
        let due = Self.start.advanced(by: .seconds(30))
        let probe = try #require(machine.acquire(now: due).decision.permit)
        let late = due.advanced(by: .seconds(1))
        #expect(machine.record(.ignored, duration: .seconds(31), for: slowCall, now: late) == nil)
        #expect(machine.acquire(now: late).decision == .refused(retryAfter: .seconds(1)))
        #expect(machine.record(.failure, duration: .seconds(31), for: slowCall, now: late) == nil)
        #expect(machine.record(.success, duration: .seconds(31), for: slowCall, now: late) == nil)
        #expect(machine.phase == .halfOpen)
        #expect(machine.record(.success, duration: .seconds(1), for: probe, now: late)?.to == .closed)
        // A probe's permit is stale once the breaker has closed.
        #expect(machine.record(.failure, duration: .zero, for: probe, now: late) == nil)
        #expect(machine.snapshot(now: late).callsInWindow == 0)
    }

    @Test("a probe from an earlier half-open neither decides nor frees a slot in the next one")
    func staleProbe() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(1), probes: 2)
        let (due, first) = machine.halfOpen(failingAt: Self.start, after: .seconds(1))
        let failing = try #require(first)
        let straggler = try #require(machine.acquire(now: due).decision.permit)
        #expect(machine.record(.failure, duration: .zero, for: failing, now: due)?.to == .open)
        let again = due.advanced(by: .seconds(1))
        let probe = try #require(machine.acquire(now: again).decision.permit)
        let other = try #require(machine.acquire(now: again).decision.permit)
        #expect(machine.record(.ignored, duration: .zero, for: straggler, now: again) == nil)
        #expect(machine.acquire(now: again).decision.permit == nil)
        #expect(machine.record(.failure, duration: .zero, for: straggler, now: again) == nil)
        #expect(machine.record(.success, duration: .zero, for: straggler, now: again) == nil)
        #expect(machine.phase == .halfOpen)
        #expect(machine.record(.success, duration: .zero, for: probe, now: again) == nil)
        #expect(machine.record(.success, duration: .zero, for: other, now: again)?.to == .closed)
    }

    // MARK: Overrides

    @Test("forced open refuses everything with no retry time and never half-opens")
    func forcedOpen() throws {
        var machine = Self.opensOnFirstFailure()
        let before = try #require(machine.acquire(now: Self.start).decision.permit)
        let transition = machine.override(.forcedOpen, now: Self.start)
        #expect(transition == BreakerTransition(from: .closed, to: .forcedOpen, reason: .operatorOverride))
        #expect(transition?.description == "closed → forced-open: operator override")
        #expect(machine.override(.forcedOpen, now: Self.start) == nil)
        #expect(machine.record(.failure, duration: .zero, for: before, now: Self.start) == nil)
        for later in [Duration.zero, .seconds(30), .seconds(86_400 * 365)] {
            let now = Self.start.advanced(by: later)
            #expect(machine.refusal(now: now) == .refused(retryAfter: nil))
            #expect(machine.acquire(now: now) == (.refused(retryAfter: nil), nil))
        }
        #expect(machine.phase == .forcedOpen)
        #expect(machine.snapshot(now: Self.start).retryAfter == nil)
        #expect(machine.snapshot(now: Self.start).opens == 0)
    }

    @Test("forced open from open stays forced past the open duration")
    func forcedOpenFromOpen() {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(1))
        _ = machine.call(.failure, now: Self.start)
        #expect(machine.override(.forcedOpen, now: Self.start)?.from == .open)
        #expect(machine.acquire(now: Self.start.advanced(by: .seconds(2))) == (.refused(retryAfter: nil), nil))
    }

    @Test("disabled admits everything and never moves, whatever is recorded")
    func disabled() throws {
        var machine = Self.opensOnFirstFailure()
        #expect(machine.override(.disabled, now: Self.start) == BreakerTransition(from: .closed, to: .disabled, reason: .operatorOverride))
        for index in 0..<1000 {
            let now = Self.start.advanced(by: .milliseconds(index))
            #expect(machine.refusal(now: now) == nil)
            #expect(machine.call(.failure, duration: .seconds(60), now: now) == nil)
        }
        let snapshot = machine.snapshot(now: Self.start)
        #expect(snapshot == BreakerSnapshot(phase: .disabled, retryAfter: nil, callsInWindow: 0, failureRate: 0, consecutiveFailures: 0, opens: 0))
        #expect(machine.override(.disabled, now: Self.start) == nil)
    }

    @Test("the closed override resets to a fresh closed breaker from any phase")
    func closedOverride() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(1), multiplier: 2, maxOpenDuration: .seconds(60))
        _ = machine.call(.failure, now: Self.start)
        let due = Self.start.advanced(by: .seconds(1))
        let probe = try #require(machine.acquire(now: due).decision.permit)
        _ = machine.record(.failure, duration: .zero, for: probe, now: due)  // reopened for 2 s
        #expect(machine.override(.closed, now: due) == BreakerTransition(from: .open, to: .closed, reason: .operatorOverride))
        #expect(machine.snapshot(now: due) == BreakerSnapshot(phase: .closed, retryAfter: nil, callsInWindow: 0, failureRate: 0, consecutiveFailures: 0, opens: 2))
        // Growth undone.
        _ = machine.call(.failure, now: due)
        #expect(machine.snapshot(now: due).retryAfter == .seconds(1))

        for from in [BreakerOverride.forcedOpen, .disabled] {
            _ = machine.override(from, now: due)
            #expect(machine.override(.closed, now: due) == BreakerTransition(from: from == .forcedOpen ? .forcedOpen : .disabled, to: .closed, reason: .operatorOverride))
            #expect(machine.acquire(now: due).decision.permit != nil)
        }

        var partial = Self.rateOnly(minimumCalls: 3, windowSize: 3, threshold: 1)
        let inFlight = try #require(partial.acquire(now: Self.start).decision.permit)
        _ = partial.call(.failure, now: Self.start)
        _ = partial.call(.failure, now: Self.start)
        #expect(partial.override(.closed, now: Self.start) == nil)
        #expect(partial.snapshot(now: Self.start).callsInWindow == 0)
        // A call admitted before the reset does not count after it.
        #expect(partial.record(.failure, duration: .zero, for: inFlight, now: Self.start) == nil)
        #expect(partial.snapshot(now: Self.start).callsInWindow == 0)
    }

    // MARK: Thresholds of one

    @Test("consecutiveFailures 1 opens on the first failure")
    func oneConsecutiveFailure() {
        var machine = Machine(configuration: Self.configuration { $0.consecutiveFailures = 1 })
        #expect(machine.call(.success, now: Self.start) == nil)
        let transition = machine.call(.failure, now: Self.start)
        #expect(transition == BreakerTransition(from: .closed, to: .open, reason: .consecutiveFailures(1)))
        #expect(transition?.description == "closed → open: 1 consecutive failure")
    }

    @Test("minimumCalls 1 with failureRateThreshold 1 opens on a first outcome that fails, not after a success")
    func minimumCallsOne() {
        var machine = Self.rateOnly(minimumCalls: 1, windowSize: 10, threshold: 1)
        #expect(machine.call(.failure, now: Self.start) == BreakerTransition(from: .closed, to: .open, reason: .failureRate(1)))

        var afterSuccess = Self.rateOnly(minimumCalls: 1, windowSize: 10, threshold: 1)
        #expect(afterSuccess.call(.success, now: Self.start) == nil)
        #expect(afterSuccess.call(.failure, now: Self.start) == nil)

        var windowOfOne = Self.rateOnly(minimumCalls: 1, windowSize: 1, threshold: 1)
        #expect(windowOfOne.call(.success, now: Self.start) == nil)
        #expect(windowOfOne.call(.failure, now: Self.start)?.to == .open)
    }

    @Test("halfOpenProbes 1 admits one probe and closes when it succeeds")
    func oneProbe() throws {
        var machine = Self.opensOnFirstFailure(openDuration: .seconds(30), probes: 1)
        let (due, first) = machine.halfOpen(failingAt: Self.start, after: .seconds(30))
        let probe = try #require(first)
        #expect(machine.acquire(now: due).decision == .refused(retryAfter: .seconds(1)))
        #expect(machine.record(.success, duration: .zero, for: probe, now: due)?.to == .closed)
    }

    // MARK: Everything else

    @Test("two machines are independent")
    func independent() {
        var first = Self.opensOnFirstFailure()
        var second = Self.opensOnFirstFailure()
        _ = first.call(.failure, now: Self.start)
        #expect(first.phase == .open)
        #expect(second.phase == .closed)
        #expect(second.acquire(now: Self.start).decision.permit != nil)
        #expect(second.call(.success, now: Self.start) == nil)
        #expect(first.refusal(now: Self.start) == .refused(retryAfter: .seconds(30)))
    }

    @Test("the configuration takes the manifest's settings")
    func configurationFromSettings() {
        var settings = BreakerSettings()
        settings.slowCallDurationMilliseconds = 1500
        settings.openDurationMilliseconds = 250
        settings.maxOpenDurationMilliseconds = 4000
        settings.consecutiveFailures = 7
        settings.openDurationMultiplier = 3
        let configuration = Machine.Configuration(settings)
        #expect(configuration.failureRateThreshold == 0.5)
        #expect(configuration.slowCallRateThreshold == 1)
        #expect(configuration.slowCallDuration == .milliseconds(1500))
        #expect(configuration.minimumCalls == 20)
        #expect(configuration.windowSize == 50)
        #expect(configuration.consecutiveFailures == 7)
        #expect(configuration.openDuration == .milliseconds(250))
        #expect(configuration.openDurationMultiplier == 3)
        #expect(configuration.maxOpenDuration == .seconds(4))
        #expect(configuration.halfOpenProbes == 3)
    }

    @Test("phases and overrides have stable spellings")
    func spellings() {
        #expect(BreakerPhase.allCases.map(\.description) == ["closed", "open", "half-open", "forced-open", "disabled"])
        #expect(BreakerOverride(rawValue: "forced-open") == .forcedOpen)
        #expect(BreakerOverride(rawValue: "closed") == .closed)
        #expect(BreakerOverride(rawValue: "disabled") == .disabled)
        #expect(BreakerOverride(rawValue: "open") == nil)
        #expect(BreakerOverride(rawValue: "half-open") == nil)
    }

    @Test("a configuration out of range is taken as the nearest one in range")
    func clamped() throws {
        var machine = Machine(configuration: Self.configuration {
            $0.windowSize = 0
            $0.minimumCalls = 0
            $0.consecutiveFailures = 0
            $0.halfOpenProbes = 0
            $0.openDuration = .seconds(2)
            $0.maxOpenDuration = .seconds(1)
            $0.openDurationMultiplier = 0.5
        })
        #expect(machine.call(.success, now: Self.start) == nil)
        #expect(machine.call(.failure, now: Self.start)?.to == .open)  // consecutiveFailures 1
        #expect(machine.snapshot(now: Self.start).retryAfter == .seconds(2))
        let due = Self.start.advanced(by: .seconds(2))
        let probe = try #require(machine.acquire(now: due).decision.permit)
        #expect(machine.acquire(now: due).decision.permit == nil)  // one probe
        _ = machine.record(.failure, duration: .zero, for: probe, now: due)
        #expect(machine.snapshot(now: due).retryAfter == .seconds(2))  // no shrinking
    }
}

extension BreakerStateMachine.Decision {
    /// The permit, when the call was permitted.
    var permit: BreakerStateMachine<Instant>.Permit? {
        guard case .permitted(let permit) = self else { return nil }
        return permit
    }
}

extension BreakerStateMachine {
    /// Acquires a permit and records `outcome` for it at once, recording an issue when refused.
    ///
    /// - Returns: The transition the outcome caused.
    mutating func call(_ outcome: Outcome, duration: Duration = .milliseconds(1), now: Instant, sourceLocation: SourceLocation = #_sourceLocation) -> BreakerTransition? {
        guard let permit = acquire(now: now).decision.permit else {
            Issue.record("the call was refused", sourceLocation: sourceLocation)
            return nil
        }
        return record(outcome, duration: duration, for: permit, now: now)
    }

    /// Opens the breaker with a failure at `start` and half-opens it `openDuration` later.
    ///
    /// - Returns: The instant it half-opened, and the first probe's permit.
    mutating func halfOpen(failingAt start: Instant, after openDuration: Duration, sourceLocation: SourceLocation = #_sourceLocation) -> (due: Instant, probe: Permit?) {
        _ = call(.failure, now: start, sourceLocation: sourceLocation)
        let due = start.advanced(by: openDuration)
        return (due, acquire(now: due).decision.permit)
    }
}
