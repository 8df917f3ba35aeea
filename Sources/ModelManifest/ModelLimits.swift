import ModelHostCore

/// A model's admission and execution limits, from the manifest's `limits`.
public struct ModelLimits: Sendable, Hashable, Decodable {
    /// Sustained requests per second the model admits, across all callers. Default 100.
    public var requestsPerSecond: Double = 100
    /// Requests admitted at once above the sustained rate. Default 20.
    public var burst: Int = 20
    /// Concurrent `infer` calls one instance accepts (the plugin's thread-safety). Default 1.
    public var maxConcurrency: Int = 1
    /// How long one request may take, in milliseconds. Default 1000.
    public var timeoutMilliseconds: Int = 1000
    /// Requests that may wait for a free slot. Default 64.
    public var maxQueue: Int = 64
    /// The largest batch (first dimension) one request or dynamic batch may have. Default 32.
    public var maxBatch: Int = 32
    /// How long loading this version (dlopen, create, warmup) may take, in milliseconds, when that
    /// is longer than the server's load timeout (`serve --load-timeout`, default 60 s). Default:
    /// none, the server's timeout applies.
    public var loadTimeoutMilliseconds: Int?
    /// Dynamic batching: how long, in milliseconds, a request may wait for others to join it in
    /// one call of up to ``maxBatch`` rows. Needs a plugin that declares batch support
    /// (`MH_CAPABILITY_BATCHING`). Default: none, every request is its own call.
    public var batchDelayMilliseconds: Int?

    /// Whether requests are joined into batched calls.
    public var isBatching: Bool { batchDelayMilliseconds != nil && maxBatch > 1 }

    /// Creates limits with every field at its default.
    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case requestsPerSecond, burst, maxConcurrency, timeoutMs, maxQueue, maxBatch, loadTimeoutMs, batchDelayMs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let defaults = ModelLimits()
        requestsPerSecond = try container.decode(.requestsPerSecond, default: defaults.requestsPerSecond, in: 0.001...1_000_000)
        burst = try container.decode(.burst, default: defaults.burst, in: 1...1_000_000)
        maxConcurrency = try container.decode(.maxConcurrency, default: defaults.maxConcurrency, in: 1...1024)
        timeoutMilliseconds = try container.decode(.timeoutMs, default: defaults.timeoutMilliseconds, in: 1...3_600_000)
        maxQueue = try container.decode(.maxQueue, default: defaults.maxQueue, in: 0...1_000_000)
        maxBatch = try container.decode(.maxBatch, default: defaults.maxBatch, in: 1...1_000_000)
        if container.contains(.loadTimeoutMs) {
            loadTimeoutMilliseconds = try container.decode(.loadTimeoutMs, default: 60_000, in: 1...86_400_000)
        }
        if container.contains(.batchDelayMs) {
            batchDelayMilliseconds = try container.decode(.batchDelayMs, default: 0, in: 0...10_000)
        }
    }
}
