import Gatekeeper
import ModelManifest
import ModelRegistry

/// What one connection remembers between its requests, to spare work that repeats: the
/// credential it last authenticated, and the rate limit of the model version it last called.
///
/// Keep-alive clients send the same key to the same model request after request; the memo turns
/// hashing the key and deriving the model's limit into two comparisons. It lives and dies with
/// the connection.
struct ConnectionMemo {
    /// The Gatekeeper's memo of the last authenticated credential.
    var credential = CredentialMemo()
    /// The version whose limit ``modelLimit`` is.
    private var limitRecord: ModelVersionRecord?
    private var limit: RateLimit?

    /// The rate limit of `record`'s manifest, derived once per version.
    mutating func modelLimit(of record: ModelVersionRecord) -> RateLimit? {
        if let limitRecord, limitRecord === record { return limit }
        limitRecord = record
        limit = record.manifest.map { RateLimit.perSecond($0.limits.requestsPerSecond, burst: $0.limits.burst, policyName: "model") }
        return limit
    }
}
