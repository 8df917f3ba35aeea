import ModelHostCore
import Synchronization

/// Decides, before any plugin code runs, who may call which model how often: authentication,
/// authorization by scope and model, and rate limits.
///
/// Rate limits, all exact (GCRA) and each keyed separately so one client's flood never spends
/// another client's budget:
/// - per key overall, where the key sets a limit of its own;
/// - per key per model: the key's limit, else ``Configuration/defaultKeyLimit``;
/// - per model, from its manifest, across all callers;
/// - before authentication, failed authentications per client address.
/// A request is admitted only if every limit that applies admits it; only then is it counted.
///
/// Authentication is pure work on an immutable key set and runs before the actor is entered;
/// only the rate-limit tables, the state every request shares, are isolated to it.
///
/// Time comes from the injected clock, so tests are exact.
public actor Gatekeeper<C: Clock> where C.Duration == Duration {
    /// Defaults for keys and clients.
    public struct Configuration: Sendable {
        /// Whether routes other than probes need a key. Default `true`.
        public var requiresAuthentication: Bool = true
        /// Whether request rate limits (per key, per key and model, per model) apply. Default `true`.
        ///
        /// The limit on failed authentications per address is brute-force protection, not a
        /// request rate limit: it applies whenever authentication is required.
        public var enforcesRateLimits: Bool = true
        /// A key's limit per model where the key sets none: 100 requests a minute, burst 100.
        public var defaultKeyLimit = RateLimit(quota: 100, window: .seconds(60), burst: 100, policyName: "key-model")!
        /// Failed authentications one client address may make: 10 a minute, burst 10.
        public var failedAuthenticationLimit = RateLimit(quota: 10, window: .seconds(60), burst: 10, policyName: "auth-failures")!
        /// Clients (keys, key and model pairs, addresses) each table tracks at most. Default 1,000,000.
        public var maxTrackedClients: Int = 1_000_000

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private let configuration: Configuration
    private let clock: C
    private nonisolated let keys: Mutex<KeyRing>
    private var keyLimits: RateLimiterTable<C.Instant>
    private var modelLimits: RateLimiterTable<C.Instant>
    private var failedAuthentications: RateLimiterTable<C.Instant>

    /// The realm named in `WWW-Authenticate`.
    public static var realm: String { "modelhost" }

    /// Creates a gatekeeper.
    ///
    /// - Parameters:
    ///   - configuration: Defaults for keys and clients.
    ///   - keys: The keys that may call; replace them with ``replaceKeys(_:)``.
    ///   - clock: The clock rate limits run on.
    public init(configuration: Configuration = .init(), keys: KeyRing, clock: C) {
        self.configuration = configuration
        self.keys = Mutex(keys)
        self.clock = clock
        let tables = RateLimiterTable<C.Instant>.Configuration(maxEntries: configuration.maxTrackedClients)
        keyLimits = RateLimiterTable(configuration: tables)
        modelLimits = RateLimiterTable(configuration: tables)
        failedAuthentications = RateLimiterTable(configuration: tables)
    }

    /// Replaces the set of valid keys, as when the keys file changes.
    public nonisolated func replaceKeys(_ keys: KeyRing) {
        self.keys.withLock { $0 = keys }
    }

    /// The number of clients the rate-limit tables track, for tests and metrics.
    public var trackedClientCount: Int {
        keyLimits.count + modelLimits.count + failedAuthentications.count
    }

    /// Admits or refuses a request, counting it against every limit that applies when admitted.
    public nonisolated func admit(_ request: AdmissionRequest) async -> AdmissionDecision {
        guard let scope = request.access.requiredScope else {
            return AdmissionDecision(keyID: nil, refusal: nil, headers: [])
        }
        guard configuration.requiresAuthentication else {
            return await decide(request, scope: scope, authentication: nil)
        }
        // Hashing and comparing the key needs no shared state: do it before entering the actor.
        let authentication = request.credential.map { credential in keys.withLock { $0 }.authenticate(credential) }
        return await decide(request, scope: scope, authentication: authentication)
    }

    /// The part of admission that reads and writes the rate-limit tables.
    ///
    /// - Parameter authentication: The outcome for the presented credential; `nil` when none was
    ///   presented, or when authentication is off.
    private func decide(_ request: AdmissionRequest, scope: KeyScope, authentication: Authentication?) -> AdmissionDecision {
        let now = clock.now
        var key: KeyRecord?
        if configuration.requiresAuthentication {
            switch authenticate(request, scope: scope, authentication: authentication, now: now) {
            case .success(let record): key = record
            case .failure(let refused): return refused.decision
            }
        }
        guard configuration.enforcesRateLimits, request.access.isRateLimited else {
            return AdmissionDecision(keyID: key?.id, refusal: nil, headers: [])
        }
        return limit(request, key: key, now: now)
    }

    private func authenticate(_ request: AdmissionRequest, scope: KeyScope, authentication: Authentication?, now: C.Instant) -> Result<KeyRecord, Refused> {
        let addressKey = request.clientAddress
        let failureLimit = configuration.failedAuthenticationLimit
        let blocked = failedAuthentications.check(addressKey, limit: failureLimit, at: now)
        // A refusal for an address the table does not hold only means the table is full: that
        // address has not failed, so it is not locked out (and its failures go uncounted until
        // the table has room, so the table stays bounded).
        let canCountFailure = blocked.isAllowed
        guard blocked.isAllowed || !failedAuthentications.isTracking(addressKey) else {
            let error = ModelHostError(.rateLimited, "too many failed authentications from this address; retry after \(blocked.retryAfterHeader) s")
            return .failure(Refused(refusal(error, decision: blocked, limit: failureLimit)))
        }
        guard let authentication else {
            return .failure(Refused(unauthenticated("an API key is required: send it as X-API-Key or Authorization: Bearer", error: nil)))
        }
        let record: KeyRecord
        switch authentication {
        case .authenticated(let found):
            record = found
        case .malformed:
            if canCountFailure { failedAuthentications.record(addressKey, limit: failureLimit, at: now) }
            return .failure(Refused(unauthenticated("the API key is malformed", error: "invalid_token")))
        case .unknown:
            if canCountFailure { failedAuthentications.record(addressKey, limit: failureLimit, at: now) }
            return .failure(Refused(unauthenticated("the API key is not valid", error: "invalid_token")))
        case .revoked(let id):
            if canCountFailure { failedAuthentications.record(addressKey, limit: failureLimit, at: now) }
            return .failure(Refused(unauthenticated("API key \(id) has been revoked", error: "invalid_token")))
        }
        guard record.permits(scope) else {
            let error = ModelHostError(.authorization, "API key \(record.id) lacks the \"\(scope)\" scope this route needs")
            return .failure(Refused(AdmissionDecision(keyID: record.id, refusal: error, headers: [])))
        }
        if let model = request.model, !record.permits(model: model) {
            let error = ModelHostError(.authorization, "API key \(record.id) may not call model \"\(model)\"")
            return .failure(Refused(AdmissionDecision(keyID: record.id, refusal: error, headers: [])))
        }
        return .success(record)
    }

    private func limit(_ request: AdmissionRequest, key: KeyRecord?, now: C.Instant) -> AdmissionDecision {
        var checks: [(table: Table, key: String, limit: RateLimit)] = []
        if let key {
            let own = key.rateLimit
            if let own, let overall = RateLimit(quota: own.requests, window: own.window, burst: own.burst, policyName: "key") {
                checks.append((.keys, "k:" + key.id, overall))
            }
            if let model = request.model {
                let perModel = own.flatMap { RateLimit(quota: $0.requests, window: $0.window, burst: $0.burst, policyName: "key-model") }
                checks.append((.keys, "km:" + key.id + ":" + model, perModel ?? configuration.defaultKeyLimit))
            }
        }
        if let model = request.model, let modelLimit = request.modelLimit {
            checks.append((.models, "m:" + model, modelLimit))
        }
        var tightest: (decision: RateLimitDecision, limit: RateLimit)?
        for check in checks {
            let decision = switch check.table {
            case .keys: keyLimits.check(check.key, limit: check.limit, at: now)
            case .models: modelLimits.check(check.key, limit: check.limit, at: now)
            }
            if !decision.isAllowed {
                let error = ModelHostError(.rateLimited, "rate limit \"\(check.limit.policyName)\" exceeded (\(check.limit.quota) requests per \(check.limit.window)); retry after \(decision.retryAfterHeader) s")
                return refusal(error, decision: decision, limit: check.limit, keyID: key?.id)
            }
            if tightest == nil || decision.remaining < tightest!.decision.remaining {
                tightest = (decision, check.limit)
            }
        }
        for check in checks {
            switch check.table {
            case .keys: keyLimits.record(check.key, limit: check.limit, at: now)
            case .models: modelLimits.record(check.key, limit: check.limit, at: now)
            }
        }
        var headers: [(name: String, value: String)] = []
        if let tightest {
            headers.append(("RateLimit-Policy", tightest.decision.rateLimitPolicyHeader(tightest.limit)))
            headers.append(("RateLimit", tightest.decision.rateLimitHeader(tightest.limit)))
        }
        return AdmissionDecision(keyID: key?.id, refusal: nil, headers: headers)
    }

    private func refusal(_ error: ModelHostError, decision: RateLimitDecision, limit: RateLimit, keyID: String? = nil) -> AdmissionDecision {
        AdmissionDecision(keyID: keyID, refusal: error, headers: [
            ("Retry-After", decision.retryAfterHeader),
            ("RateLimit-Policy", decision.rateLimitPolicyHeader(limit)),
            ("RateLimit", decision.rateLimitHeader(limit)),
        ])
    }

    private func unauthenticated(_ message: String, error: String?) -> AdmissionDecision {
        var challenge = "Bearer realm=\"\(Self.realm)\""
        if let error { challenge += ", error=\"\(error)\"" }
        return AdmissionDecision(keyID: nil, refusal: ModelHostError(.authentication, message), headers: [("WWW-Authenticate", challenge)])
    }

    private enum Table {
        case keys
        case models
    }

    /// A refusal carried through `Result`.
    private struct Refused: Error {
        var decision: AdmissionDecision
        init(_ decision: AdmissionDecision) { self.decision = decision }
    }
}
