/// The outcome of checking one request against one ``RateLimit`` for one key, and the HTTP header
/// values that report it.
///
/// A refused request is answered with 429 and `Retry-After` (RFC 9110), and every answer may carry
/// the IETF `RateLimit-Policy` and `RateLimit` fields, for example
/// `RateLimit-Policy: "model";q=100;w=1` and `RateLimit: "model";r=0;t=1`. All of that formatting
/// lives in this file.
public struct RateLimitDecision: Sendable, Hashable {
    /// Whether the request is admitted.
    public var isAllowed: Bool
    /// The requests the key could still make at the same instant right after this decision
    /// (after recording this request when it is admitted). Zero when refused.
    public var remaining: Int
    /// Zero when admitted; otherwise exactly how long until the key would be admitted.
    public var retryAfter: Duration
    /// How long until the key has its full burst available again (after recording this request
    /// when it is admitted).
    public var resetAfter: Duration

    /// Creates a decision.
    ///
    /// - Parameters:
    ///   - isAllowed: Whether the request is admitted.
    ///   - remaining: Requests still admissible right after this decision.
    ///   - retryAfter: Zero when admitted, else the time until the key would be admitted.
    ///   - resetAfter: The time until the full burst is available again.
    public init(isAllowed: Bool, remaining: Int, retryAfter: Duration, resetAfter: Duration) {
        self.isAllowed = isAllowed
        self.remaining = remaining
        self.retryAfter = retryAfter
        self.resetAfter = resetAfter
    }

    // MARK: Header values

    /// The name of the RFC 9110 `Retry-After` field.
    public static let retryAfterHeaderName = "Retry-After"
    /// The name of the IETF `RateLimit-Policy` field.
    public static let rateLimitPolicyHeaderName = "RateLimit-Policy"
    /// The name of the IETF `RateLimit` field.
    public static let rateLimitHeaderName = "RateLimit"

    /// ``retryAfter`` in whole seconds, rounded up: 0 when admitted, at least 1 when refused.
    public var retryAfterSeconds: Int {
        isAllowed ? 0 : max(1, Self.secondsRoundedUp(retryAfter))
    }

    /// The `Retry-After` value (RFC 9110 delay-seconds): ``retryAfterSeconds`` as decimal digits.
    ///
    /// At least `"1"` when refused, so a client never retries at once; `"0"` when admitted (a
    /// response that admits the request does not need the field).
    public var retryAfterHeader: String { String(retryAfterSeconds) }

    /// The `RateLimit-Policy` item for `limit`, such as `"model";q=100;w=1`: the quota and the window
    /// in seconds.
    ///
    /// - Parameter limit: The limit this decision was made against.
    /// - Returns: One structured-field list item; join several with `", "`.
    public func rateLimitPolicyHeader(_ limit: RateLimit) -> String {
        limit.policyItem
    }

    /// The `RateLimit` item for `limit`, such as `"model";r=0;t=1`: the ``remaining`` requests and
    /// the seconds until the full burst is back (``resetAfter``, rounded up).
    ///
    /// - Parameter limit: The limit this decision was made against.
    /// - Returns: One structured-field list item; join several with `", "`.
    public func rateLimitHeader(_ limit: RateLimit) -> String {
        limit.quotedPolicyName + ";r=" + String(max(0, remaining)) + ";t=" + String(Self.secondsRoundedUp(resetAfter))
    }

    /// The header fields reporting this decision against `limit`: `RateLimit-Policy` and
    /// `RateLimit`, and `Retry-After` when refused.
    ///
    /// - Parameter limit: The limit this decision was made against.
    /// - Returns: The fields as name and value pairs, in that order.
    public func headerFields(for limit: RateLimit) -> [(name: String, value: String)] {
        Self.headerFields(for: [(self, limit)])
    }

    /// The header fields reporting several decisions made for one request (one per limit).
    ///
    /// `RateLimit-Policy` and `RateLimit` list one item per decision, in order; `Retry-After` is
    /// present when any decision refused, with the longest wait among the refusals.
    ///
    /// - Parameter results: Each decision with the limit it was made against.
    /// - Returns: The fields as name and value pairs; empty when `results` is empty.
    public static func headerFields(
        for results: [(decision: RateLimitDecision, limit: RateLimit)]
    ) -> [(name: String, value: String)] {
        guard !results.isEmpty else { return [] }
        var fields: [(name: String, value: String)] = [
            (rateLimitPolicyHeaderName, results.map { $0.decision.rateLimitPolicyHeader($0.limit) }.joined(separator: ", ")),
            (rateLimitHeaderName, results.map { $0.decision.rateLimitHeader($0.limit) }.joined(separator: ", ")),
        ]
        let refusals = results.filter { !$0.decision.isAllowed }
        if let wait = refusals.map(\.decision.retryAfterSeconds).max() {
            fields.append((retryAfterHeaderName, String(wait)))
        }
        return fields
    }

    /// `duration` in whole seconds, rounded up; zero for zero or negative durations.
    static func secondsRoundedUp(_ duration: Duration) -> Int {
        let attoseconds = duration.attoseconds
        guard attoseconds > 0 else { return 0 }
        let (seconds, remainder) = attoseconds.quotientAndRemainder(dividingBy: RateLimit.attosecondsPerSecond)
        let rounded = remainder == 0 ? seconds : seconds + 1
        return rounded > Int128(Int.max) ? Int.max : Int(rounded)
    }

    /// `text` as a structured-field string (RFC 8941): quoted, with `"` and `\` escaped and any
    /// character outside printable ASCII replaced by `?`.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"", "\\":
                result.append("\\")
                result.unicodeScalars.append(scalar)
            case " "..."~":
                result.unicodeScalars.append(scalar)
            default:
                result.append("?")
            }
        }
        result.append("\"")
        return result
    }
}
