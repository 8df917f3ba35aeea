/// What an operator can set a circuit breaker to.
public enum BreakerOverride: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Refuse every call, and never probe, until overridden again.
    case forcedOpen = "forced-open"
    /// Start afresh, closed: an empty window and the first open duration. Also ends a forced open
    /// or a disabled breaker.
    case closed
    /// Let every call through and judge nothing, until overridden again.
    case disabled

    /// The override's stable spelling, as the admin API accepts it.
    public var description: String { rawValue }
}
