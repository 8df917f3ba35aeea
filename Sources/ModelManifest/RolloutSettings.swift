import ModelHostCore

/// What a new version does once it is ready, from the manifest's `rollout`, and how it is
/// watched afterwards.
public struct RolloutSettings: Sendable, Hashable, Decodable {
    /// How a ready version takes traffic.
    public enum Mode: String, Sendable, Hashable, CaseIterable, Decodable {
        /// It becomes the model's active version at once.
        case auto
        /// It is ready, and takes only requests that name it, until an operator promotes it.
        case manual
        /// It takes ``RolloutSettings/percent`` of the model's unversioned traffic for the watch
        /// period, each caller kept on one version, then becomes active if it stayed healthy.
        case canary
        /// It takes ``RolloutSettings/percent`` of the unversioned traffic beside the active
        /// version until an operator ends the split (an A/B test).
        case split
    }

    /// How a ready version takes traffic. Default ``Mode/auto``.
    public var mode: Mode = .auto
    /// The share of unversioned traffic, in percent, a canary or split version takes. Default 10.
    public var percent: Double = 10
    /// How long after it takes traffic a version is watched, in milliseconds: if its breaker opens
    /// or its error ratio passes ``maxErrorRate`` in that time, the model rolls back by itself.
    /// A canary is promoted at its end. Default 300000 (5 minutes).
    public var watchMilliseconds: Int = 300_000
    /// The share of failed requests (the breaker's failures: `unavailable`, `plugin_error`,
    /// `timeout`) that rolls a watched version back. Default 0.05.
    public var maxErrorRate: Double = 0.05
    /// Requests a watched version must have answered before its error ratio is judged. Default 20.
    public var minimumRequests: Int = 20

    /// Creates settings with every field at its default.
    public init() {}

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, percent, watchMs, maxErrorRate, minimumRequests
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let defaults = RolloutSettings()
        if container.contains(.mode) {
            let text = try container.decode(String.self, forKey: .mode)
            guard let mode = Mode(rawValue: text) else {
                let modes = Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                throw container.invalid(.mode, "must be one of \(modes), not \"\(text)\"")
            }
            self.mode = mode
        }
        percent = try container.decode(.percent, default: defaults.percent, in: 0.01...99.99)
        watchMilliseconds = try container.decode(.watchMs, default: defaults.watchMilliseconds, in: 0...604_800_000)
        maxErrorRate = try container.decode(.maxErrorRate, default: defaults.maxErrorRate, in: 0...1)
        minimumRequests = try container.decode(.minimumRequests, default: defaults.minimumRequests, in: 1...1_000_000)
    }
}
