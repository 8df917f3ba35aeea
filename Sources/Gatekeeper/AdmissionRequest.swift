import ModelHostCore

/// What the Gatekeeper needs to know about a request to admit or refuse it, before any model
/// code runs.
public struct AdmissionRequest: Sendable {
    /// What a route gives access to, and so what a key needs to call it.
    public struct Access: Sendable, Hashable {
        fileprivate enum Kind: Hashable {
            case open
            case metadata
            case inference
            case admin
        }

        fileprivate let kind: Kind

        /// Health probes: no key needed.
        public static let open = Access(kind: .open)
        /// Server and model metadata: needs the `infer` scope.
        public static let metadata = Access(kind: .metadata)
        /// Inference: needs the `infer` scope, and counts against rate limits.
        public static let inference = Access(kind: .inference)
        /// Repository and other control routes: needs the `admin` scope.
        public static let admin = Access(kind: .admin)

        /// The scope a key must hold, or `nil` for open routes.
        public var requiredScope: KeyScope? {
            switch kind {
            case .open: nil
            case .metadata, .inference: .infer
            case .admin: .admin
            }
        }

        /// Whether requests count against rate limits.
        public var isRateLimited: Bool { kind == .inference }
    }

    /// What the route gives access to.
    public var access: Access
    /// The model the route names, if any.
    public var model: String?
    /// The model's own rate limit, from its manifest.
    public var modelLimit: RateLimit?
    /// The presented credential (`X-API-Key` or `Authorization: Bearer`), if any.
    public var credential: String?
    /// The client's address, for limiting failed authentications.
    public var clientAddress: String

    /// Creates a request.
    public init(access: Access, model: String? = nil, modelLimit: RateLimit? = nil, credential: String?, clientAddress: String) {
        self.access = access
        self.model = model
        self.modelLimit = modelLimit
        self.credential = credential
        self.clientAddress = clientAddress
    }
}

/// The Gatekeeper's answer.
public struct AdmissionDecision: Sendable {
    /// The key that was accepted, if the route needed one.
    public var keyID: String?
    /// The refusal, or `nil` when the request is admitted.
    public var refusal: ModelHostError?
    /// Why the request was refused, for metrics; set on every refusal, `nil` when admitted.
    public var refusalReason: AdmissionRefusalReason?
    /// Header fields for the response: rate-limit state on admission, `Retry-After`,
    /// `WWW-Authenticate` and the IETF `RateLimit` fields on refusal.
    public var headers: [(name: String, value: String)]

    /// Creates a decision.
    ///
    /// - Parameters:
    ///   - keyID: The key that was accepted, if any.
    ///   - refusal: The refusal, or `nil` to admit.
    ///   - refusalReason: Why it was refused; `nil` when admitted.
    ///   - headers: Header fields for the response.
    public init(keyID: String?, refusal: ModelHostError?, refusalReason: AdmissionRefusalReason? = nil, headers: [(name: String, value: String)]) {
        self.keyID = keyID
        self.refusal = refusal
        self.refusalReason = refusalReason
        self.headers = headers
    }

    /// Whether the request may proceed.
    public var isAdmitted: Bool { refusal == nil }
}

/// What one client connection remembers between its requests: the credential it last
/// authenticated and the key that credential stands for, valid while the key set is unchanged.
///
/// It lives only in the connection's memory, for as long as the connection: the same place the
/// credential itself arrives in with every request. It is never logged or written anywhere.
public struct CredentialMemo: Sendable {
    var credential: String?
    var generation: UInt64 = 0
    var record: KeyRecord?
    /// The record's own limits, derived once.
    var limits: RateLimitPlan.KeyLimits?

    /// An empty memo, for a new connection.
    public init() {}

    init(credential: String?, generation: UInt64, record: KeyRecord?) {
        self.credential = credential
        self.generation = generation
        self.record = record
        self.limits = record.map(RateLimitPlan.KeyLimits.init)
    }
}

/// Something that admits or refuses requests before they reach a model.
public protocol RequestAdmitting: Sendable {
    /// Admits or refuses `request`.
    ///
    /// Synchronous, so that an HTTP edge on event loops can call it inline: an implementation
    /// must not block beyond brief locks.
    func admit(_ request: AdmissionRequest) -> AdmissionDecision

    /// Admits or refuses `request`, reusing and updating what `memo` remembers of the client's
    /// previous request. The default ignores the memo.
    func admit(_ request: AdmissionRequest, memo: inout CredentialMemo) -> AdmissionDecision
}

extension RequestAdmitting {
    public func admit(_ request: AdmissionRequest, memo: inout CredentialMemo) -> AdmissionDecision {
        admit(request)
    }
}

extension Gatekeeper: RequestAdmitting {}
