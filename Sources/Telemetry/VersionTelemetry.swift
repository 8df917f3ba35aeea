import ModelHostCore
import ModelManifest
import Synchronization

/// What is measured of one loaded model version's requests: how each ended, how long it took in
/// all, queued and inside the plugin, and which inputs the manifest refused.
///
/// One per version, with a lock of its own: requests to different versions never share it, and
/// a request takes it once, when its answer is known.
public final class VersionTelemetry: Sendable {
    /// The outcome label of a request that succeeded.
    public static let successLabel = "ok"

    /// An input refused by the manifest, and by which rule.
    public struct Refusal: Sendable, Hashable {
        /// The input's declared name, or a placeholder for an undeclared one.
        public var input: String
        /// The rule's stable name.
        public var rule: String

        /// Creates a refusal.
        public init(input: String, rule: String) {
            self.input = input
            self.rule = rule
        }
    }

    /// Everything measured so far.
    public struct Snapshot: Sendable {
        /// Requests answered, by outcome: ``VersionTelemetry/successLabel`` or an error code.
        public var outcomes: [String: UInt64]
        /// Seconds from the request's head to its answer.
        public var total: Histogram
        /// Seconds queued before the plugin was called, for requests that reached the queue.
        public var queued: Histogram
        /// Seconds inside the plugin, for requests it was called for.
        public var inference: Histogram
        /// Inputs the manifest refused, by input and rule.
        public var refusals: [Refusal: UInt64]

        /// Requests answered in all.
        public var requests: UInt64 { outcomes.values.reduce(0, &+) }
        /// Requests that did not succeed.
        public var failures: UInt64 { requests &- (outcomes[VersionTelemetry.successLabel] ?? 0) }
    }

    private struct State {
        var succeeded: UInt64 = 0
        var failed: [ModelHostError.Code: UInt64] = [:]
        var total = Histogram(upperBounds: Histogram.latencyBounds)
        var queued = Histogram(upperBounds: Histogram.latencyBounds)
        var inference = Histogram(upperBounds: Histogram.latencyBounds)
        var refusals: [Refusal: UInt64] = [:]
    }

    private let state = Mutex(State())

    /// The tracked outputs' recent distributions and drift, when the manifest declares any.
    public let predictions: PredictionTracker?

    /// Creates empty measurements, tracking what `tracking` declares.
    public init(tracking: TrackingSettings? = nil) {
        predictions = tracking.map { PredictionTracker(settings: $0) }
    }

    /// Records a request's answer.
    ///
    /// - Parameters:
    ///   - failure: The error it ended in, or `nil` for a success.
    ///   - total: From its head to its answer.
    ///   - queued: Time in the version's queue, when it reached it.
    ///   - inference: Time inside the plugin, when the plugin was called.
    public func record(failure: ModelHostError.Code?, total: Duration, queued: Duration?, inference: Duration?) {
        state.withLock { state in
            if let failure {
                state.failed[failure, default: 0] &+= 1
            } else {
                state.succeeded &+= 1
            }
            state.total.record(total)
            if let queued { state.queued.record(queued) }
            if let inference { state.inference.record(inference) }
        }
    }

    /// Records an input the manifest refused.
    public func recordRefusal(_ refusal: Refusal) {
        state.withLock { $0.refusals[refusal, default: 0] &+= 1 }
    }

    /// Everything measured so far.
    public var snapshot: Snapshot {
        state.withLock { state in
            var outcomes: [String: UInt64] = [Self.successLabel: state.succeeded]
            for (code, count) in state.failed { outcomes[code.rawValue] = count }
            return Snapshot(outcomes: outcomes, total: state.total, queued: state.queued, inference: state.inference, refusals: state.refusals)
        }
    }
}
