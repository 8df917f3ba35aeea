/// The request rate limits one admission is subject to, and the checks and records it makes in the
/// tables of one model shard (``RateLimitState``).
///
/// Every limit is optional: the per key overall limit applies only to a key with a limit of its
/// own, the per key per model limit to an authenticated key calling a model, and the per model limit
/// to a model with a limit in its manifest.
struct RateLimitPlan: Sendable {
    /// The authenticated key, if any.
    var keyID: String?
    /// The model the request calls, if any.
    var model: String?
    /// The key's own limit across all models, keyed by ``keyID``.
    var overall: RateLimit?
    /// The key's limit for ``model``, keyed by the pair.
    var keyModel: RateLimit?
    /// The model's limit across all callers, keyed by ``model``.
    var modelLimit: RateLimit?

    /// Works out which limits apply.
    ///
    /// - Parameters:
    ///   - key: The authenticated key, or `nil` when authentication is off.
    ///   - model: The model the request calls, if any.
    ///   - modelLimit: The model's own limit, from its manifest.
    ///   - defaultKeyLimit: The per key per model limit of a key that sets none.
    init(key: KeyRecord?, model: String?, modelLimit: RateLimit?, defaultKeyLimit: RateLimit) {
        self.init(key: key, keyLimits: key.map(KeyLimits.init), model: model, modelLimit: modelLimit, defaultKeyLimit: defaultKeyLimit)
    }

    /// Works out which limits apply, with the key's own limits already derived.
    init(key: KeyRecord?, keyLimits: KeyLimits?, model: String?, modelLimit: RateLimit?, defaultKeyLimit: RateLimit) {
        keyID = key?.id
        self.model = model
        overall = keyLimits?.overall
        if key != nil, model != nil {
            keyModel = keyLimits?.perModel ?? defaultKeyLimit
        }
        self.modelLimit = model == nil ? nil : modelLimit
    }

    /// A key's own limits, as limiter values: its limit overall, and the same limit per model.
    struct KeyLimits: Sendable {
        var overall: RateLimit?
        var perModel: RateLimit?

        init(_ key: KeyRecord) {
            let own = key.rateLimit
            overall = own.flatMap { RateLimit(quota: $0.requests, window: $0.window, burst: $0.burst, policyName: "key") }
            perModel = own.flatMap { RateLimit(quota: $0.requests, window: $0.window, burst: $0.burst, policyName: "key-model") }
        }
    }

    /// Whether any limit lives in a model shard, so that the shard must be locked.
    var touchesModelShard: Bool { keyModel != nil || modelLimit != nil }

    /// Checks the limits kept in a model shard, in order (per key per model, then per model), after
    /// whatever `verdict` already holds.
    ///
    /// - Parameters:
    ///   - shard: The shard of ``model``, locked by the caller.
    ///   - now: The current time on the shard's scale.
    ///   - verdict: The verdict so far; checks stop at its first refusal.
    func check(_ shard: RateLimitState.ModelShard, at now: Int128, into verdict: inout Verdict) {
        guard let model else { return }
        if let keyID, let keyModel, verdict.isAdmitted {
            let decision = shard.keyModels.check(RateLimitState.KeyModel(keyID: keyID, model: model), limit: keyModel, at: now)
            verdict.add(decision, keyModel)
        }
        if let modelLimit, verdict.isAdmitted {
            verdict.add(shard.models.check(model, limit: modelLimit, at: now), modelLimit)
        }
    }

    /// Records the request against the limits kept in a model shard. Call it only when every limit
    /// admitted the request, at the instant they were checked at.
    ///
    /// - Parameters:
    ///   - shard: The shard of ``model``, locked by the caller.
    ///   - now: The instant the limits were checked at.
    func record(_ shard: inout RateLimitState.ModelShard, at now: Int128) {
        guard let model else { return }
        if let keyID, let keyModel {
            shard.keyModels.record(RateLimitState.KeyModel(keyID: keyID, model: model), limit: keyModel, at: now)
        }
        if let modelLimit {
            shard.models.record(model, limit: modelLimit, at: now)
        }
    }

    /// What the limits of one request decided: the first refusal, or else the tightest admission.
    struct Verdict: Sendable {
        /// A decision with the limit it was made against.
        typealias Judged = (decision: RateLimitDecision, limit: RateLimit)

        /// The first limit that refused the request, if any.
        private(set) var refusal: Judged?
        /// The admitting limit with the fewest requests remaining (the earliest one on a tie), if any.
        private(set) var tightest: Judged?

        /// Whether no limit has refused the request so far.
        var isAdmitted: Bool { refusal == nil }

        /// Adds one limit's decision.
        mutating func add(_ decision: RateLimitDecision, _ limit: RateLimit) {
            guard refusal == nil else { return }
            if !decision.isAllowed {
                refusal = (decision, limit)
            } else if tightest.map({ decision.remaining < $0.decision.remaining }) ?? true {
                tightest = (decision, limit)
            }
        }
    }
}
