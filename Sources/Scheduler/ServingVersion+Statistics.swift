import CircuitBreaker
import ModelHostCore
import Synchronization
import Telemetry

/// What a version counts of its own work, for metrics, and how each job's time was spent.
extension ServingVersion {
    /// Counts of a version's work since it was created, and what it holds now.
    public struct Statistics: Sendable, Hashable {
        /// Retries scheduled: failed calls the retry policy and the breaker let be tried again.
        public var retries: UInt64
        /// Failures of a retryable code (``ModelHostError/Code/unavailable``) that a version
        /// with a retry policy (`retry.maxAttempts` > 1) answered instead of retrying: its
        /// attempts were used up, no backoff ended before its deadline, the retry budget was
        /// spent, or the breaker refused (open when the call failed, or when its backoff ended).
        /// Failures of other codes, and of joined batches (which are never retried), are not
        /// counted.
        public var refusedRetries: UInt64
        /// Requests per plugin call, one observation per call as its thread takes it (1 for a
        /// call of its own, each retry included, as is an attempt whose deferred inputs then fail
        /// to decode), over ``Telemetry/Histogram/batchSizeBounds``.
        public var batchSizes: Histogram
        /// Breaker transitions into each phase, operators' overrides included; every phase is
        /// present, 0 when never entered.
        public var breakerTransitions: [BreakerPhase: UInt64]
        /// Jobs waiting for a thread, or for a retry: ``ServingVersion/queuedCount``.
        public var queued: Int
        /// Calls in the plugin, those past their deadline included: ``ServingVersion/runningCount``.
        public var running: Int

        /// Creates statistics; the defaults are those of a version that has done nothing.
        public init(
            retries: UInt64 = 0, refusedRetries: UInt64 = 0, batchSizes: Histogram = Histogram(upperBounds: Histogram.batchSizeBounds),
            breakerTransitions: [BreakerPhase: UInt64] = Dictionary(uniqueKeysWithValues: BreakerPhase.allCases.map { ($0, 0) }),
            queued: Int = 0, running: Int = 0
        ) {
            self.retries = retries
            self.refusedRetries = refusedRetries
            self.batchSizes = batchSizes
            self.breakerTransitions = breakerTransitions
            self.queued = queued
            self.running = running
        }
    }

    /// The version's counts and what it holds now, read at one instant.
    public var statistics: Statistics {
        state.withLock { locked in
            var statistics = locked.statistics
            statistics.queued = locked.machine.queuedCount
            statistics.running = locked.machine.runningCount
            return statistics
        }
    }
}

extension ServingVersion.Call {
    /// Its thread took it for a plugin call joining `callSize` jobs, at `now`.
    mutating func startAttempt(callSize: Int, at now: ContinuousClock.Instant) {
        attempts += 1
        self.callSize = callSize
        attemptStarted = now
        if firstStarted == nil { firstStarted = now }
    }

    /// Its plugin call, which the plugin entered at `pluginStarted` (after decoding deferred
    /// inputs), returned at `now`.
    mutating func finishAttempt(pluginStarted: ContinuousClock.Instant?, at now: ContinuousClock.Instant) {
        guard let taken = attemptStarted else { return }
        let entered = pluginStarted ?? taken
        // Decoding before the first call is queueing; before a retry's, neither.
        if attempts == 1 { firstStarted = entered }
        inference += entered.duration(to: now)
        attemptStarted = nil
    }

    /// How its time was spent, for an answer given at `now`.
    func timings(at now: ContinuousClock.Instant) -> InferenceJob.Timings {
        InferenceJob.Timings(
            queued: submitted.duration(to: firstStarted ?? now),
            inference: inference + (attemptStarted.map { $0.duration(to: now) } ?? .zero),
            batchSize: callSize, attempts: attempts
        )
    }

    /// Answers its caller with `result`, decided at `now`.
    func answer(_ result: Result<[Tensor], ModelHostError>, at now: ContinuousClock.Instant) {
        job.timedCompletion(result, timings(at: now))
    }
}

extension ServingVersion.Locked {
    /// A plugin call joining `jobs` jobs starts.
    mutating func countCall(joining jobs: Int) {
        statistics.batchSizes.record(Double(jobs))
    }

    /// Keeps a breaker transition made under the lock: counted now, reported once it is released.
    mutating func keep(_ transition: BreakerTransition) {
        statistics.breakerTransitions[transition.to, default: 0] += 1
        transitions.append(transition)
    }
}
