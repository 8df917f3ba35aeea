/// Why the Gatekeeper refused a request, as values fit for metric labels: a ``kind`` and a stable
/// lowercase ``label``.
///
/// The labels are a small fixed set, never a key, a key id or a client address:
///
/// | kind                | label                | refused because                                    |
/// |---------------------|----------------------|----------------------------------------------------|
/// | `authentication`    | `missing`            | no credential was presented                        |
/// | `authentication`    | `malformed`          | the credential is not a key (format or checksum)   |
/// | `authentication`    | `unknown`            | a well-formed key the server does not hold, or whose secret is wrong |
/// | `authentication`    | `revoked`            | the key has been revoked                           |
/// | `forbidden`         | `scope`              | the key lacks the scope the route needs            |
/// | `forbidden`         | `model`              | the key may not call the route's model             |
/// | `rate_limited`      | the policy's name    | a rate limit refused it, `auth-failures` included  |
///
/// Keys do not expire, so there is no `expired` reason. The `forbidden` reasons are counted as
/// authentication failures too (``isAuthenticationFailure``): a caller with a valid key that may
/// not do what it asks. A request refused by the failed-authentication limit is `rate_limited` with
/// that limit's policy name (`auth-failures` by default), whatever its credential, because the
/// credential was not judged. Rate-limit labels are ``RateLimit/policyName``s, which come from
/// configuration and code (`key`, `key-model`, `model`, `auth-failures`), never from a request.
public struct AdmissionRefusalReason: Sendable, Hashable, CustomStringConvertible {
    /// What kind of check refused the request. New kinds may be added; match on the static members.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        /// The stable machine-readable spelling.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The credential is missing or not valid (answered 401).
        public static let authentication = Kind("authentication")
        /// The key is valid but does not allow the request (answered 403).
        public static let forbidden = Kind("forbidden")
        /// A rate limit refused the request (answered 429).
        public static let rateLimited = Kind("rate_limited")

        public var description: String { rawValue }
    }

    /// What kind of check refused the request.
    public let kind: Kind
    /// The reason within ``kind``: the `reason` label of an authentication failure, or the `policy`
    /// label of a rate-limit refusal.
    public let label: String

    private init(kind: Kind, label: String) {
        self.kind = kind
        self.label = label
    }

    /// No credential was presented.
    public static let missing = AdmissionRefusalReason(kind: .authentication, label: "missing")
    /// The credential is not a key: wrong length, prefix, alphabet or checksum.
    public static let malformed = AdmissionRefusalReason(kind: .authentication, label: "malformed")
    /// A well-formed key that the server does not hold, or whose secret does not match.
    public static let unknown = AdmissionRefusalReason(kind: .authentication, label: "unknown")
    /// The key has been revoked.
    public static let revoked = AdmissionRefusalReason(kind: .authentication, label: "revoked")
    /// The key lacks the scope the route needs.
    public static let scope = AdmissionRefusalReason(kind: .forbidden, label: "scope")
    /// The key is restricted to other models than the route's.
    public static let model = AdmissionRefusalReason(kind: .forbidden, label: "model")

    /// A refusal by `limit`, labelled with its ``RateLimit/policyName``.
    public static func rateLimited(_ limit: RateLimit) -> AdmissionRefusalReason {
        AdmissionRefusalReason(kind: .rateLimited, label: limit.policyName)
    }

    /// Whether the refusal counts as an authentication failure: a missing or invalid credential,
    /// or a valid key that may not make the request.
    public var isAuthenticationFailure: Bool { kind == .authentication || kind == .forbidden }

    public var description: String { "\(kind): \(label)" }
}
