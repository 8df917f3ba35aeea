import ModelManifest

/// Everything one model version's circuit breaker decides: whether a call may go out now, what
/// a call's outcome does to the breaker, and what an operator's override does.
///
/// A pure value: every method takes the current instant and returns what changed, so the rules are
/// tested without threads or a real clock. Its owner keeps it behind a lock, asks
/// ``acquire(now:)`` before each call, hands the permit back with the call's outcome to
/// ``record(_:duration:for:now:)``, and reports any ``BreakerTransition`` once it has unlocked.
///
/// ## Phases
///
/// - **Closed**: calls go through. The last ``Configuration/windowSize`` outcomes are kept (a
///   ring: no growth, O(1) per outcome). It opens on ``Configuration/consecutiveFailures``
///   failures in a row whatever the window holds; or, once the window holds
///   ``Configuration/minimumCalls``, when its share of failures reaches
///   ``Configuration/failureRateThreshold``, or its share of slow calls (failed or not, taking at
///   least ``Configuration/slowCallDuration``) reaches ``Configuration/slowCallRateThreshold``
///   (unless that is 1, which turns the slow-call rule off).
/// - **Open**: calls are refused with the time left. The first open lasts
///   ``Configuration/openDuration``; each reopen after a failed probe lasts
///   ``Configuration/openDurationMultiplier`` times the one before, at most
///   ``Configuration/maxOpenDuration``; closing starts the growth afresh. Once the time is up the
///   next ``acquire(now:)`` half-opens it and admits that call as the first probe.
/// - **Half-open**: exactly ``Configuration/halfOpenProbes`` probes go out. When that many have
///   succeeded it closes with an empty window; the first probe that fails reopens it. A probe
///   whose outcome is ``Outcome/ignored`` frees its slot for another. Further calls are refused
///   with a retry after the shorter of ``Configuration/openDuration`` and one second, since the
///   probes decide soon.
/// - **Forced open** and **disabled** are set by an operator (``override(_:now:)``) and left only
///   by another override: the first refuses everything with no retry time and never probes, the
///   second admits everything and judges nothing.
///
/// ## Thresholds of one
///
/// `consecutiveFailures` 1 opens on the first failure. `minimumCalls` 1 with
/// `failureRateThreshold` 1 opens as soon as every outcome in the window failed: on the first
/// outcome if it fails (and on any failure with a window of one). `halfOpenProbes` 1 admits one
/// probe and closes when it succeeds.
///
/// ## Permits
///
/// A ``Permit`` carries the epoch it was issued in, and every change of phase (and every reset)
/// starts a new epoch. An outcome handed back with a permit of an earlier epoch is dropped: a slow
/// call admitted while closed that returns while half-open neither counts as a probe nor frees a
/// probe slot. Hand each permit back once.
public struct BreakerStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// How a breaker judges calls, from the manifest's `breaker` section.
    ///
    /// Values out of range are taken as the nearest one in range.
    public struct Configuration: Sendable, Hashable {
        /// The share of failures in the window that opens it, in 0.01...1.
        public var failureRateThreshold: Double
        /// The share of slow calls in the window that opens it, in 0.01...1; 1 means slow calls
        /// never open it.
        public var slowCallRateThreshold: Double
        /// A call taking at least this long is slow.
        public var slowCallDuration: Duration
        /// Outcomes the window must hold before its rates are judged, at most ``windowSize``.
        public var minimumCalls: Int
        /// Outcomes the window holds.
        public var windowSize: Int
        /// Failures in a row that open it, however few outcomes the window holds.
        public var consecutiveFailures: Int
        /// How long the first open lasts.
        public var openDuration: Duration
        /// What each reopen without a close in between multiplies the open duration by; 1 keeps it
        /// constant.
        public var openDurationMultiplier: Double
        /// The longest an open lasts, however often it reopens.
        public var maxOpenDuration: Duration
        /// Probe calls admitted while half-open, and the successes that close it.
        public var halfOpenProbes: Int

        /// Creates a configuration from a manifest's breaker settings.
        public init(_ settings: BreakerSettings) {
            failureRateThreshold = settings.failureRateThreshold
            slowCallRateThreshold = settings.slowCallRateThreshold
            slowCallDuration = .milliseconds(settings.slowCallDurationMilliseconds)
            minimumCalls = settings.minimumCalls
            windowSize = settings.windowSize
            consecutiveFailures = settings.consecutiveFailures
            openDuration = .milliseconds(settings.openDurationMilliseconds)
            openDurationMultiplier = settings.openDurationMultiplier
            maxOpenDuration = .milliseconds(settings.maxOpenDurationMilliseconds)
            halfOpenProbes = settings.halfOpenProbes
        }

        /// The configuration with every value brought into its range.
        fileprivate var clamped: Configuration {
            var result = self
            result.failureRateThreshold = min(max(failureRateThreshold, 0.01), 1)
            result.slowCallRateThreshold = min(max(slowCallRateThreshold, 0.01), 1)
            result.windowSize = max(1, windowSize)
            result.minimumCalls = min(max(1, minimumCalls), result.windowSize)
            result.consecutiveFailures = max(1, consecutiveFailures)
            result.openDuration = max(.zero, openDuration)
            result.openDurationMultiplier = max(1, openDurationMultiplier)
            result.maxOpenDuration = max(result.openDuration, maxOpenDuration)
            result.halfOpenProbes = max(1, halfOpenProbes)
            return result
        }
    }

    /// An admission to make one call; handed back with its outcome.
    public struct Permit: Sendable, Hashable {
        /// The epoch it was issued in.
        fileprivate let epoch: UInt64
        /// Whether it admits a probe call.
        fileprivate let isProbe: Bool
    }

    /// How a call ended, as the breaker judges it.
    public enum Outcome: Sendable, Hashable {
        /// The call did its work.
        case success
        /// The call failed in a way that says the model version is unwell.
        case failure
        /// The call says nothing about the version's health (the caller's fault, or cancelled):
        /// it is not judged, and a probe's slot is freed for another.
        case ignored
    }

    /// Whether a call may go out.
    public enum Decision: Sendable, Hashable {
        /// It may: hand the permit back with its outcome.
        case permitted(Permit)
        /// It may not; try again after `retryAfter`, which is `nil` when an operator forced the
        /// breaker open (no time is known).
        case refused(retryAfter: Duration?)
    }

    private enum State: Sendable, Hashable {
        case closed
        case open(until: Instant)
        /// `admitted` counts probes out or succeeded; `succeeded` those that succeeded.
        case halfOpen(admitted: Int, succeeded: Int)
        case forcedOpen
        case disabled
    }

    private let configuration: Configuration
    private var state = State.closed
    private var epoch: UInt64 = 0
    private var window: OutcomeWindow
    private var consecutiveFailures = 0
    /// How long the latest open lasted; `nil` when it has not opened since it last closed.
    private var lastOpenDuration: Duration?
    private var opens = 0

    /// Creates a closed breaker with an empty window.
    public init(configuration: Configuration) {
        self.configuration = configuration.clamped
        window = OutcomeWindow(capacity: self.configuration.windowSize)
    }

    /// Where the breaker stands.
    public var phase: BreakerPhase {
        switch state {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        case .forcedOpen: .forcedOpen
        case .disabled: .disabled
        }
    }

    /// How long a call refused while half-open, every probe slot taken, waits: the shorter of the
    /// open duration and one second.
    private var halfOpenRetryAfter: Duration { min(configuration.openDuration, .seconds(1)) }

    // MARK: Admission

    /// Whether a call now would be refused, and for how long, changing nothing: for a fast
    /// refusal before any work is done for the call.
    ///
    /// - Returns: The refusal, or `nil` when a call may proceed (closed, disabled, half-open with a
    ///   free probe slot, or open with its time up).
    public func refusal(now: Instant) -> Decision? {
        switch state {
        case .closed, .disabled:
            return nil
        case .open(let until):
            return now < until ? .refused(retryAfter: now.duration(to: until)) : nil
        case .halfOpen(let admitted, _):
            return admitted < configuration.halfOpenProbes ? nil : .refused(retryAfter: halfOpenRetryAfter)
        case .forcedOpen:
            return .refused(retryAfter: nil)
        }
    }

    /// Admits a call or refuses it. An open breaker whose time is up half-opens here, and the call
    /// is its first probe.
    ///
    /// - Returns: The decision, and the transition when the breaker half-opened.
    public mutating func acquire(now: Instant) -> (decision: Decision, transition: BreakerTransition?) {
        switch state {
        case .closed, .disabled:
            return (.permitted(Permit(epoch: epoch, isProbe: false)), nil)
        case .open(let until):
            guard now >= until else { return (.refused(retryAfter: now.duration(to: until)), nil) }
            let transition = move(to: .halfOpen(admitted: 1, succeeded: 0), reason: .openDurationElapsed)
            return (.permitted(Permit(epoch: epoch, isProbe: true)), transition)
        case .halfOpen(let admitted, let succeeded):
            guard admitted < configuration.halfOpenProbes else { return (.refused(retryAfter: halfOpenRetryAfter), nil) }
            state = .halfOpen(admitted: admitted + 1, succeeded: succeeded)
            return (.permitted(Permit(epoch: epoch, isProbe: true)), nil)
        case .forcedOpen:
            return (.refused(retryAfter: nil), nil)
        }
    }

    // MARK: Outcomes

    /// Judges the outcome of a call made with `permit`.
    ///
    /// - Parameters:
    ///   - outcome: How the call ended.
    ///   - duration: How long it took; at least ``Configuration/slowCallDuration`` is slow.
    ///   - permit: The permit it was made with. One from an earlier epoch is dropped.
    ///   - now: The current instant; a reopen lasts from here.
    /// - Returns: The transition, when the outcome moved the breaker.
    public mutating func record(_ outcome: Outcome, duration: Duration, for permit: Permit, now: Instant) -> BreakerTransition? {
        guard permit.epoch == epoch else { return nil }
        switch state {
        case .closed:
            guard outcome != .ignored else { return nil }
            let isFailure = outcome == .failure
            window.append(isFailure: isFailure, isSlow: duration >= configuration.slowCallDuration)
            consecutiveFailures = isFailure ? consecutiveFailures + 1 : 0
            guard let reason = reasonToOpen() else { return nil }
            return open(now: now, reason: reason)
        case .halfOpen(let admitted, let succeeded):
            guard permit.isProbe else { return nil }
            switch outcome {
            case .ignored:
                state = .halfOpen(admitted: max(0, admitted - 1), succeeded: succeeded)
                return nil
            case .failure:
                return open(now: now, reason: .probeFailed)
            case .success:
                guard succeeded + 1 >= configuration.halfOpenProbes else {
                    state = .halfOpen(admitted: admitted, succeeded: succeeded + 1)
                    return nil
                }
                return close(reason: .probesSucceeded)
            }
        case .open, .forcedOpen, .disabled:
            return nil
        }
    }

    /// Why the closed window calls for opening, if it does.
    private func reasonToOpen() -> BreakerTransition.Reason? {
        if consecutiveFailures >= configuration.consecutiveFailures {
            return .consecutiveFailures(consecutiveFailures)
        }
        guard window.count >= configuration.minimumCalls else { return nil }
        let failureRate = window.failureRate
        if failureRate >= configuration.failureRateThreshold {
            return .failureRate(failureRate)
        }
        let slowCallRate = window.slowCallRate
        if configuration.slowCallRateThreshold < 1, slowCallRate >= configuration.slowCallRateThreshold {
            return .slowCallRate(slowCallRate)
        }
        return nil
    }

    // MARK: Operator

    /// Sets the breaker as an operator asks. ``BreakerOverride/closed`` starts afresh whatever
    /// the phase (an empty window, the first open duration), closed or not before.
    ///
    /// - Returns: The transition, or `nil` when the phase stays the same.
    public mutating func override(_ override: BreakerOverride, now: Instant) -> BreakerTransition? {
        switch override {
        case .forcedOpen:
            guard state != .forcedOpen else { return nil }
            return move(to: .forcedOpen, reason: .operatorOverride)
        case .disabled:
            guard state != .disabled else { return nil }
            return move(to: .disabled, reason: .operatorOverride)
        case .closed:
            let from = phase
            let transition = close(reason: .operatorOverride)
            return from == .closed ? nil : transition
        }
    }

    // MARK: Reading

    /// What the breaker looks like at `now`.
    public func snapshot(now: Instant) -> BreakerSnapshot {
        var retryAfter: Duration?
        if case .open(let until) = state {
            retryAfter = now < until ? now.duration(to: until) : .zero
        }
        return BreakerSnapshot(
            phase: phase,
            retryAfter: retryAfter,
            callsInWindow: window.count,
            failureRate: window.failureRate,
            consecutiveFailures: consecutiveFailures,
            opens: opens
        )
    }

    // MARK: Transitions

    /// Enters `next` in a new epoch.
    private mutating func move(to next: State, reason: BreakerTransition.Reason) -> BreakerTransition {
        let from = phase
        state = next
        epoch &+= 1
        return BreakerTransition(from: from, to: phase, reason: reason)
    }

    /// Opens from now: for the open duration after a close, else for the last one grown.
    private mutating func open(now: Instant, reason: BreakerTransition.Reason) -> BreakerTransition {
        let duration = lastOpenDuration.map(grown) ?? configuration.openDuration
        lastOpenDuration = duration
        opens += 1
        return move(to: .open(until: now.advanced(by: duration)), reason: reason)
    }

    /// Closes with an empty window and the open duration's growth undone.
    private mutating func close(reason: BreakerTransition.Reason) -> BreakerTransition {
        window.removeAll()
        consecutiveFailures = 0
        lastOpenDuration = nil
        return move(to: .closed, reason: reason)
    }

    /// `duration` times the multiplier, at most the longest open duration, to the nanosecond.
    private func grown(_ duration: Duration) -> Duration {
        let cap = configuration.maxOpenDuration
        guard configuration.openDurationMultiplier > 1 else { return min(duration, cap) }
        let (seconds, attoseconds) = duration.components
        let nanoseconds = (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) * configuration.openDurationMultiplier
        let (capSeconds, capAttoseconds) = cap.components
        guard nanoseconds < Double(capSeconds) * 1e9 + Double(capAttoseconds) / 1e9, nanoseconds < Double(Int64.max) else { return cap }
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }
}
