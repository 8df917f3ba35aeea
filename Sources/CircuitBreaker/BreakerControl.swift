/// A model version whose breaker can be read and overridden (the Scheduler's ServingVersion
/// conforms).
///
/// The breaker itself lives with the version's execution, so the request path never waits for the
/// ``BreakerRegistry``; the registry reaches it through this.
public protocol BreakerControl: AnyObject, Sendable {
    /// What the version's breaker looks like now.
    var breakerSnapshot: BreakerSnapshot { get }

    /// Sets the version's breaker as an operator asks, reporting any transition as the version
    /// reports its own.
    ///
    /// - Returns: What the breaker looks like afterwards.
    func overrideBreaker(_ override: BreakerOverride) -> BreakerSnapshot
}
