import CircuitBreaker
import ModelHostCore
import Synchronization

/// The version's circuit breaker: it lives in the version's locked state, is asked before each
/// call and told each call's outcome in critical sections the version takes anyway, and reports
/// its transitions once the lock is released.
extension ServingVersion {
    /// The refusal a request gets now if the version's breaker is open, before any work is done
    /// for it (its body is not even read); `nil` when a call may go out. It takes no probe slot:
    /// ``submit(_:)`` decides for real.
    public func breakerRefusal() -> ModelHostError? {
        let now = ContinuousClock.now
        guard case .refused(let retryAfter)? = state.withLock({ $0.breaker?.refusal(now: now) }) else { return nil }
        return breakerError(retryAfter: retryAfter)
    }

    /// What a caller refused by the breaker is told: the time left while open, or that an
    /// operator took the version out of service.
    func breakerError(retryAfter: Duration?) -> ModelHostError {
        guard let retryAfter else {
            return ModelHostError(.unavailable, "model \"\(name)\" version \(version) is taken out of service by an operator (its circuit breaker is forced open)", modelVersion: version)
        }
        return ModelHostError(
            .unavailable, "model \"\(name)\" version \(version) is failing: its circuit breaker is open for another \(Self.describe(retryAfter))",
            modelVersion: version, retryAfter: retryAfter
        )
    }

    /// Reports breaker transitions made under the lock.
    func report(_ transitions: [BreakerTransition]) {
        for transition in transitions { breakerEvents(transition) }
    }

    /// What a call's result means to the breaker: the plugin failing (`unavailable`,
    /// `plugin_error`, `timeout`) is a failure; the caller's faults, overload and cancellation
    /// say nothing about the plugin.
    static func breakerOutcome(of result: Result<[Tensor], ModelHostError>) -> Breaker.Outcome {
        switch result {
        case .success: .success
        case .failure(let error) where error.code == .unavailable || error.code == .pluginError || error.code == .timeout: .failure
        case .failure: .ignored
        }
    }
}

extension ServingVersion {
    /// Calls answered since the version became ready, as its breaker judges them: successes,
    /// and failures (`unavailable`, `plugin_error`, `timeout`). Callers' faults, overload and
    /// cancellations count as neither.
    public var outcomeCounts: OutcomeCounts { state.withLock { $0.outcomes } }

    /// Successes and failures of a version's calls.
    public struct OutcomeCounts: Sendable, Hashable {
        /// Calls that succeeded.
        public var succeeded = 0
        /// Calls that failed.
        public var failed = 0

        /// Creates counts.
        public init(succeeded: Int = 0, failed: Int = 0) {
            self.succeeded = succeeded
            self.failed = failed
        }
    }
}

extension ServingVersion: BreakerControl {
    /// The breaker's state now; `closed` with nothing recorded before the version is ready.
    public var breakerSnapshot: BreakerSnapshot {
        let now = ContinuousClock.now
        return state.withLock { $0.breaker?.snapshot(now: now) }
            ?? BreakerSnapshot(phase: .closed, retryAfter: nil, callsInWindow: 0, failureRate: 0, consecutiveFailures: 0, opens: 0)
    }

    /// Sets the breaker as an operator asks, and reports the transition.
    public func overrideBreaker(_ override: BreakerOverride) -> BreakerSnapshot {
        let now = ContinuousClock.now
        let (snapshot, transitions) = state.withLock { locked -> (BreakerSnapshot?, [BreakerTransition]) in
            guard locked.breaker != nil else { return (nil, []) }
            if let transition = locked.breaker!.override(override, now: now) { locked.keep(transition) }
            return (locked.breaker!.snapshot(now: now), locked.takeTransitions())
        }
        report(transitions)
        return snapshot ?? breakerSnapshot
    }
}

extension ServingVersion.Locked {
    /// Hands a call's permit back to the breaker with its outcome.
    mutating func record(_ outcome: ServingVersion.Breaker.Outcome, of call: ServingVersion.Call, duration: Duration, now: ContinuousClock.Instant) {
        switch outcome {
        case .success: outcomes.succeeded += 1
        case .failure: outcomes.failed += 1
        case .ignored: break
        }
        guard let permit = call.permit, breaker != nil else { return }
        if let transition = breaker!.record(outcome, duration: duration, for: permit, now: now) { keep(transition) }
    }

    /// Records the outcome of each job a finished call answers.
    mutating func record(_ finish: ServingVersion.Machine.FinishAction?, outcome: ServingVersion.Outcome, duration: Duration, now: ContinuousClock.Instant) {
        switch (finish, outcome) {
        case (.deliver(let call, _, _)?, .single(let result)):
            record(ServingVersion.breakerOutcome(of: result), of: call, duration: duration, now: now)
        case (.deliverBatch(let calls)?, .batch(let results)):
            for (call, result) in zip(calls, results) {
                if let call { record(ServingVersion.breakerOutcome(of: result), of: call, duration: duration, now: now) }
            }
        default:
            break
        }
    }

    /// Takes the transitions to report.
    mutating func takeTransitions() -> [BreakerTransition] {
        guard !transitions.isEmpty else { return [] }
        defer { transitions = [] }
        return transitions
    }
}
