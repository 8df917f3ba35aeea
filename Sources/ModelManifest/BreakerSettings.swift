import ModelHostCore

/// The circuit breaker a model version runs behind, from the manifest's `breaker`.
public struct BreakerSettings: Sendable, Hashable, Decodable {
    /// Share of failed calls in the window that opens the breaker. Default 0.5.
    public var failureRateThreshold: Double = 0.5
    /// Share of slow calls in the window that opens the breaker. Default 1.0 (slow calls alone never open it).
    public var slowCallRateThreshold: Double = 1.0
    /// A call slower than this, in milliseconds, counts as slow. Default 2000.
    public var slowCallDurationMilliseconds: Int = 2000
    /// Calls the window must hold before rates are judged. Default 20.
    public var minimumCalls: Int = 20
    /// Calls the sliding window holds. Default 50.
    public var windowSize: Int = 50
    /// How long the breaker stays open before probing, in milliseconds. Default 30000.
    public var openDurationMilliseconds: Int = 30_000
    /// Probe calls allowed while half-open. Default 3.
    public var halfOpenProbes: Int = 3
    /// Failures in a row that open the breaker, however few calls the window holds. Default 5.
    public var consecutiveFailures: Int = 5
    /// What each reopen without a close in between multiplies the open duration by; 1 keeps it
    /// constant. Default 2.
    public var openDurationMultiplier: Double = 2
    /// The longest the open duration grows to, in milliseconds (>= `openDurationMs`). Default 300000.
    public var maxOpenDurationMilliseconds: Int = 300_000

    /// Creates settings with every field at its default.
    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case failureRateThreshold, slowCallRateThreshold, slowCallDurationMs, minimumCalls, windowSize
        case openDurationMs, halfOpenProbes, consecutiveFailures, openDurationMultiplier, maxOpenDurationMs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let defaults = BreakerSettings()
        failureRateThreshold = try container.decode(.failureRateThreshold, default: defaults.failureRateThreshold, in: 0.01...1)
        slowCallRateThreshold = try container.decode(.slowCallRateThreshold, default: defaults.slowCallRateThreshold, in: 0.01...1)
        slowCallDurationMilliseconds = try container.decode(.slowCallDurationMs, default: defaults.slowCallDurationMilliseconds, in: 1...3_600_000)
        minimumCalls = try container.decode(.minimumCalls, default: defaults.minimumCalls, in: 1...100_000)
        windowSize = try container.decode(.windowSize, default: defaults.windowSize, in: 1...100_000)
        openDurationMilliseconds = try container.decode(.openDurationMs, default: defaults.openDurationMilliseconds, in: 1...86_400_000)
        halfOpenProbes = try container.decode(.halfOpenProbes, default: defaults.halfOpenProbes, in: 1...1000)
        consecutiveFailures = try container.decode(.consecutiveFailures, default: defaults.consecutiveFailures, in: 1...100_000)
        openDurationMultiplier = try container.decode(.openDurationMultiplier, default: defaults.openDurationMultiplier, in: 1...100)
        maxOpenDurationMilliseconds = try container.decode(.maxOpenDurationMs, default: defaults.maxOpenDurationMilliseconds, in: 1...86_400_000)
        guard minimumCalls <= windowSize else {
            throw container.invalid(.minimumCalls, "must be <= windowSize (\(windowSize))")
        }
        guard openDurationMilliseconds <= maxOpenDurationMilliseconds else {
            throw container.invalid(.maxOpenDurationMs, "must be >= openDurationMs (\(openDurationMilliseconds))")
        }
    }
}
