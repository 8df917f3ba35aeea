/// Where a circuit breaker stands.
public enum BreakerPhase: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Calls go through; their outcomes are judged.
    case closed
    /// Calls are refused until the open duration has passed.
    case open
    /// A few probe calls go through; their outcomes decide whether it closes or opens again.
    case halfOpen = "half-open"
    /// An operator opened it: every call is refused until an operator says otherwise.
    case forcedOpen = "forced-open"
    /// An operator turned it off: every call goes through and nothing is judged.
    case disabled

    /// The phase's stable spelling, as in logs and the admin API.
    public var description: String { rawValue }
}
