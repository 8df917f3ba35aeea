/// A circuit breaker's move from one phase to another, and why.
public struct BreakerTransition: Sendable, Hashable, CustomStringConvertible {
    /// Why a breaker moved.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// This many failures in a row.
        case consecutiveFailures(Int)
        /// The window's share of failed calls reached the threshold; the share.
        case failureRate(Double)
        /// The window's share of slow calls reached the threshold; the share.
        case slowCallRate(Double)
        /// The open duration passed; probing begins.
        case openDurationElapsed
        /// A probe call failed.
        case probeFailed
        /// Every probe call succeeded.
        case probesSucceeded
        /// An operator set the breaker.
        case operatorOverride

        /// The reason as a log reads it, such as `5 consecutive failures` or `failure rate 60%`.
        public var description: String {
            switch self {
            case .consecutiveFailures(let count): count == 1 ? "1 consecutive failure" : "\(count) consecutive failures"
            case .failureRate(let rate): "failure rate \(Self.percent(rate))"
            case .slowCallRate(let rate): "slow-call rate \(Self.percent(rate))"
            case .openDurationElapsed: "open duration elapsed"
            case .probeFailed: "probe failed"
            case .probesSucceeded: "probes succeeded"
            case .operatorOverride: "operator override"
            }
        }

        /// A share as a whole percentage, rounded to nearest.
        private static func percent(_ share: Double) -> String {
            guard share.isFinite else { return "\(share)" }
            return "\(Int((share * 100).rounded()))%"
        }
    }

    /// The phase it left.
    public var from: BreakerPhase
    /// The phase it entered.
    public var to: BreakerPhase
    /// Why.
    public var reason: Reason

    /// Creates a transition.
    public init(from: BreakerPhase, to: BreakerPhase, reason: Reason) {
        self.from = from
        self.to = to
        self.reason = reason
    }

    /// The transition as a log reads it, such as `closed → open: 5 consecutive failures`.
    public var description: String { "\(from) → \(to): \(reason)" }
}
