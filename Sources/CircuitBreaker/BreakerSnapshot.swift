/// What a circuit breaker looks like at one instant, for the admin API and observability.
public struct BreakerSnapshot: Sendable, Hashable {
    /// Where it stands.
    public var phase: BreakerPhase
    /// While open, the time left before it probes (zero once that time is up); `nil` in every other
    /// phase.
    public var retryAfter: Duration?
    /// Outcomes in the sliding window. While open or half-open, the window that opened it.
    public var callsInWindow: Int
    /// The window's share of failed calls; 0 when the window is empty.
    public var failureRate: Double
    /// Failures in a row at the end of the window.
    public var consecutiveFailures: Int
    /// How many times it has opened by itself since it was created (operator overrides not counted).
    public var opens: Int

    /// Creates a snapshot.
    public init(phase: BreakerPhase, retryAfter: Duration?, callsInWindow: Int, failureRate: Double, consecutiveFailures: Int, opens: Int) {
        self.phase = phase
        self.retryAfter = retryAfter
        self.callsInWindow = callsInWindow
        self.failureRate = failureRate
        self.consecutiveFailures = consecutiveFailures
        self.opens = opens
    }
}
