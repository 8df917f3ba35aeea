import ModelHostCore

/// How transient failures are retried, from the manifest's `retry`.
public struct RetrySettings: Sendable, Hashable, Decodable {
    /// Attempts in all, the first included; 1 means no retry. Default 2.
    public var maxAttempts: Int = 2
    /// The backoff base, in milliseconds (full jitter: random(0, min(cap, base * 2^attempt))). Default 25.
    public var baseDelayMilliseconds: Int = 25
    /// The backoff cap, in milliseconds. Default 500.
    public var maxDelayMilliseconds: Int = 500
    /// Retries allowed as a percentage of active requests (the retry budget). Default 20.
    public var budgetPercent: Double = 20

    /// Creates settings with every field at its default.
    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case maxAttempts, baseDelayMs, maxDelayMs, budgetPercent
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let defaults = RetrySettings()
        maxAttempts = try container.decode(.maxAttempts, default: defaults.maxAttempts, in: 1...10)
        baseDelayMilliseconds = try container.decode(.baseDelayMs, default: defaults.baseDelayMilliseconds, in: 0...60_000)
        maxDelayMilliseconds = try container.decode(.maxDelayMs, default: defaults.maxDelayMilliseconds, in: 0...600_000)
        budgetPercent = try container.decode(.budgetPercent, default: defaults.budgetPercent, in: 0...100)
        guard baseDelayMilliseconds <= maxDelayMilliseconds else {
            throw container.invalid(.baseDelayMs, "must be <= maxDelayMs (\(maxDelayMilliseconds))")
        }
    }
}
