/// The counts the HTTP edge and the control plane keep outside any one model version: requests
/// no version's inference answered, refusals by authentication reason and rate-limit
/// policy, and what happened to each model's bundles and rollout.
public final class EdgeCounters: Sendable {
    /// Requests no model version's inference answered — probes, metadata, control routes, and
    /// inference requests refused before a version took them — by outcome (`ok` or the code).
    public let edgeRequests = CounterTable()
    /// Requests refused for their credentials, by reason.
    public let authenticationFailures = CounterTable()
    /// Requests refused by a rate limit, by policy name.
    public let rateLimited = CounterTable()
    /// Loads, failed loads, reloads and rollbacks, per model.
    public let modelEvents = ModelEventCounters()

    /// Creates counters at zero.
    public init() {}
}
