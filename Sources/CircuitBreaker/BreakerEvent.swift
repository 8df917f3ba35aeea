/// One breaker transition, for the log and observability.
public struct BreakerEvent: Sendable, Hashable, CustomStringConvertible {
    /// The model's name.
    public var model: String
    /// The model version whose breaker moved.
    public var version: String
    /// How it moved, and why.
    public var transition: BreakerTransition

    /// Creates an event.
    public init(model: String, version: String, transition: BreakerTransition) {
        self.model = model
        self.version = version
        self.transition = transition
    }

    /// The event as a log reads it, such as `tiny 1.2.3: closed → open: 5 consecutive failures`.
    public var description: String { "\(model) \(version): \(transition)" }
}
