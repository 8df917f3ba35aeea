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
/// Every refusal carries its ``AdmissionDecision/refusalReason`` (``AdmissionRefusalReason``): the
/// authentication or authorization reason, or the name of the rate-limit policy that refused it.
///
/// ``admit(_:)`` is synchronous and never enters the actor, so an event loop can call it inline.
/// Authentication is pure work on an immutable key set and takes no lock but the brief one that
/// hands out the current ring. The rate-limit tables are sharded by model, key id and client
/// address, each shard behind a `Mutex` of its own, so admissions for different models do not
/// contend; a request touching several tables takes their locks in one fixed order and holds them
/// across its checks and records. The actor owns the keys and the tables; it has no other state.
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
        /// Clients (keys, key and model pairs, models, addresses) each table tracks at most.
        /// Default 1,000,000.
        ///
        /// Each table is split into shards (16, or the largest power of two at most this value when
        /// it is smaller), and each shard holds at most its even share, this value divided by the
        /// number of shards, rounded down. So no table exceeds this value; a client whose shard is
        /// full is refused (fail closed) even while other shards have room.
        public var maxTrackedClients: Int = 1_000_000

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private let configuration: Configuration
    private let clock: C
    /// The instant the rate-limit tables measure time from.
    private let origin: C.Instant
    private nonisolated let keys: Mutex<KeyRing>
    /// Counts replacements of ``keys``, so a ``CredentialMemo`` knows when it is stale.
    private let keyGeneration = Atomic<UInt64>(0)
    private let limits: RateLimitState

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
        self.origin = clock.now
        self.limits = RateLimitState(maxTrackedClients: configuration.maxTrackedClients)
    }

    /// Replaces the set of valid keys, as when the keys file changes.
    public nonisolated func replaceKeys(_ keys: KeyRing) {
        self.keys.withLock { $0 = keys }
        keyGeneration.add(1, ordering: .releasing)
    }

    /// Authenticates `credential`, or takes the answer from `memo` when it authenticated the same
    /// credential against the same key set.
    private nonisolated func authenticate(_ credential: String, memo: inout CredentialMemo) -> Authentication {
        let generation = keyGeneration.load(ordering: .acquiring)
        if memo.generation == generation, let record = memo.record, memo.credential == credential {
            return .authenticated(record)
        }
        let authentication = keys.withLock { $0 }.authenticate(credential)
        if case .authenticated(let record) = authentication {
            memo = CredentialMemo(credential: credential, generation: generation, record: record)
        } else {
            memo = CredentialMemo()
        }
        return authentication
    }

    /// The number of clients whose rate-limit state is live now (keys, key and model pairs, models
    /// and addresses), over every table, for tests and metrics.
    ///
    /// It first drops the entries that have expired, which a shard otherwise does only when it
    /// next records (dropping them changes no decision), so the count is also what the tables hold.
    /// It takes each shard's lock in turn, so it is not meant for the request path, and under
    /// concurrent admissions it is no snapshot of one instant.
    public nonisolated var trackedClientCount: Int {
        limits.liveCount(at: elapsed())
    }

    /// Admits or refuses a request, counting it against every limit that applies when admitted.
    ///
    /// Synchronous, and never waits for anything but the brief locks of the shards the request
    /// touches, so it may be called on an event loop.
    ///
    /// - Parameter request: What the route and the client present.
    /// - Returns: The decision, with the header fields for the response.
    public nonisolated func admit(_ request: AdmissionRequest) -> AdmissionDecision {
        var memo = CredentialMemo()
        return admit(request, memo: &memo)
    }

    /// Admits or refuses a request as ``admit(_:)`` does, reusing what `memo` remembers of the
    /// previous request from the same client.
    ///
    /// A credential identical to the one `memo` last authenticated, with the key set unchanged
    /// since, is not hashed again; every other check (scope, model, the address's failure limit,
    /// rate limits) runs for every request. After ``replaceKeys(_:)`` every memo is stale, so a
    /// revoked key is refused from the next request on.
    ///
    /// - Parameters:
    ///   - request: What the route and the client present.
    ///   - memo: The memo of the connection the request came on; updated.
    /// - Returns: The decision, with the header fields for the response.
    public nonisolated func admit(_ request: AdmissionRequest, memo: inout CredentialMemo) -> AdmissionDecision {
        guard let scope = request.access.requiredScope else {
            return AdmissionDecision(keyID: nil, refusal: nil, headers: [])
        }
        var key: KeyRecord?
        if configuration.requiresAuthentication {
            // Hashing and comparing the key needs no shared state: it is done before any lock.
            let authentication = request.credential.map { credential in authenticate(credential, memo: &memo) }
            switch authenticate(request, scope: scope, authentication: authentication) {
            case .success(let record): key = record
            case .failure(let refused): return refused.decision
            }
        }
        guard configuration.enforcesRateLimits, request.access.isRateLimited else {
            return AdmissionDecision(keyID: key?.id, refusal: nil, headers: [])
        }
        // Authenticating left the key's record, and its limits, in the memo.
        let keyLimits = key.map { memo.limits ?? RateLimitPlan.KeyLimits($0) }
        return limit(request, key: key, keyLimits: keyLimits)
    }

    /// The time on the rate-limit tables' scale: attoseconds since ``origin``.
    private nonisolated func elapsed() -> Int128 {
        origin.duration(to: clock.now).attoseconds
    }

    /// Screens the client's address, then judges the credential and the key's permissions.
    ///
    /// - Parameter authentication: The outcome for the presented credential; `nil` when none was
    ///   presented.
    private nonisolated func authenticate(_ request: AdmissionRequest, scope: KeyScope, authentication: Authentication?) -> Result<KeyRecord, Refused> {
        let failureLimit = configuration.failedAuthenticationLimit
        let isFailure = switch authentication {
        case .malformed?, .unknown?, .revoked?: true
        case .authenticated?, nil: false
        }
        if let blocked = limits.screen(request.clientAddress, isFailure: isFailure, limit: failureLimit, now: elapsed) {
            let error = ModelHostError(.rateLimited, "too many failed authentications from this address; retry after \(blocked.retryAfterHeader) s")
            return .failure(Refused(refusal(error, .rateLimited(failureLimit), decision: blocked, limit: failureLimit)))
        }
        guard let authentication else {
            return .failure(Refused(unauthenticated("an API key is required: send it as X-API-Key or Authorization: Bearer", .missing, error: nil)))
        }
        let record: KeyRecord
        switch authentication {
        case .authenticated(let found):
            record = found
        case .malformed:
            return .failure(Refused(unauthenticated("the API key is malformed", .malformed, error: "invalid_token")))
        case .unknown:
            return .failure(Refused(unauthenticated("the API key is not valid", .unknown, error: "invalid_token")))
        case .revoked(let id):
            return .failure(Refused(unauthenticated("API key \(id) has been revoked", .revoked, error: "invalid_token")))
        }
        guard record.permits(scope) else {
            let error = ModelHostError(.authorization, "API key \(record.id) lacks the \"\(scope)\" scope this route needs")
            return .failure(Refused(AdmissionDecision(keyID: record.id, refusal: error, refusalReason: .scope, headers: [])))
        }
        if let model = request.model, !record.permits(model: model) {
            let error = ModelHostError(.authorization, "API key \(record.id) may not call model \"\(model)\"")
            return .failure(Refused(AdmissionDecision(keyID: record.id, refusal: error, refusalReason: .model, headers: [])))
        }
        return .success(record)
    }

    /// Applies the request rate limits; the headers are formatted after every lock is released.
    private nonisolated func limit(_ request: AdmissionRequest, key: KeyRecord?, keyLimits: RateLimitPlan.KeyLimits?) -> AdmissionDecision {
        let plan = RateLimitPlan(key: key, keyLimits: keyLimits, model: request.model, modelLimit: request.modelLimit, defaultKeyLimit: configuration.defaultKeyLimit)
        let verdict = limits.admit(plan, now: elapsed)
        if let (decision, limit) = verdict.refusal {
            let error = ModelHostError(.rateLimited, "rate limit \"\(limit.policyName)\" exceeded (\(limit.quota) requests per \(limit.window)); retry after \(decision.retryAfterHeader) s")
            return refusal(error, .rateLimited(limit), decision: decision, limit: limit, keyID: key?.id)
        }
        guard let (decision, limit) = verdict.tightest else {
            return AdmissionDecision(keyID: key?.id, refusal: nil, headers: [])
        }
        return AdmissionDecision(keyID: key?.id, refusal: nil, headers: [
            ("RateLimit-Policy", decision.rateLimitPolicyHeader(limit)),
            ("RateLimit", decision.rateLimitHeader(limit)),
        ])
    }

    private nonisolated func refusal(
        _ error: ModelHostError, _ reason: AdmissionRefusalReason, decision: RateLimitDecision, limit: RateLimit, keyID: String? = nil
    ) -> AdmissionDecision {
        AdmissionDecision(keyID: keyID, refusal: error, refusalReason: reason, headers: [
            ("Retry-After", decision.retryAfterHeader),
            ("RateLimit-Policy", decision.rateLimitPolicyHeader(limit)),
            ("RateLimit", decision.rateLimitHeader(limit)),
        ])
    }

    private nonisolated func unauthenticated(_ message: String, _ reason: AdmissionRefusalReason, error: String?) -> AdmissionDecision {
        var challenge = "Bearer realm=\"\(Self.realm)\""
        if let error { challenge += ", error=\"\(error)\"" }
        return AdmissionDecision(
            keyID: nil, refusal: ModelHostError(.authentication, message), refusalReason: reason, headers: [("WWW-Authenticate", challenge)]
        )
    }

    /// A refusal carried through `Result`.
    private struct Refused: Error {
        var decision: AdmissionDecision
        init(_ decision: AdmissionDecision) { self.decision = decision }
    }
}
