/// A rate limit: at most ``quota`` requests per ``window``, of which up to ``burst`` may arrive at once.
///
/// The limit is enforced by the generic cell rate algorithm (GCRA, see ``RateLimiterTable``), which
/// derives two durations from it:
/// - the emission interval `T = window / quota`, the steady spacing between admitted requests;
/// - the tolerance `tau = T * (burst - 1)`, how far ahead of that schedule a caller may run.
///
/// Over any interval of length `t` a key is admitted at most `burst + floor(t / T)` times.
///
/// Every value of this type is valid: ``init(quota:window:burst:policyName:)`` is failable and
/// ``perSecond(_:burst:policyName:)`` clamps, so the limiter never meets a zero rate or an empty window.
/// The window is a whole number of seconds because the `RateLimit-Policy` header states it as an
/// integer (`w=`); a sub-second rate is a larger quota (one per 100 ms is `quota: 10, window: 1 s`).
public struct RateLimit: Sendable, Hashable {
    /// The number of requests admitted per ``window`` at the sustained rate (at least 1).
    public let quota: Int
    /// The window the ``quota`` applies to: a whole number of seconds, from 1 s to ``maximumWindow``.
    public let window: Duration
    /// The number of requests a key with no recent traffic may make at once (1 to ``maximumBurst``).
    public let burst: Int
    /// The name of the policy in the `RateLimit-Policy` and `RateLimit` headers, such as `"model"`,
    /// `"key"`, `"key-model"` or `"auth-failures"`.
    public let policyName: String
    /// The emission interval `T`: ``window`` divided by ``quota``, rounded up to the next attosecond
    /// so the limiter never admits more than ``quota`` per ``window``.
    public let emissionInterval: Duration
    /// The tolerance `tau = T * (burst - 1)`: how far ahead of the steady schedule a key may run.
    public let tolerance: Duration
    /// ``policyName`` as a structured-field string, quoted and escaped: derived once, as every
    /// admitted request reports it.
    let quotedPolicyName: String
    /// This limit's `RateLimit-Policy` item, such as `"model";q=100;w=1`: derived once.
    let policyItem: String

    /// The longest accepted window: 366 days.
    public static let maximumWindow: Duration = .seconds(366 * 86_400)
    /// The largest accepted burst.
    public static let maximumBurst = 1_000_000_000
    /// The longest window ``perSecond(_:burst:policyName:)`` uses, one day; it bounds the slowest rate
    /// (one request per day) and the denominators a fractional rate is approximated with.
    public static let maximumPerSecondWindow: Duration = .seconds(86_400)
    /// The fastest rate ``perSecond(_:burst:policyName:)`` accepts; faster rates are clamped to it.
    public static let maximumRequestsPerSecond: Double = 1_000_000_000

    /// Creates a limit of `quota` requests per `window` with bursts of up to `burst` requests.
    ///
    /// - Parameters:
    ///   - quota: Requests admitted per `window`; at least 1.
    ///   - window: A whole number of seconds, from 1 s to ``maximumWindow``.
    ///   - burst: Requests admitted at once; from 1 to ``maximumBurst``.
    ///   - policyName: The policy's name in the rate-limit headers. Default `"default"`.
    /// - Returns: `nil` when any argument is out of range, so an invalid limit cannot exist.
    public init?(quota: Int, window: Duration, burst: Int, policyName: String = "default") {
        guard quota >= 1, burst >= 1, burst <= Self.maximumBurst,
            window >= .seconds(1), window <= Self.maximumWindow,
            window.attoseconds % Self.attosecondsPerSecond == 0
        else { return nil }
        self.quota = quota
        self.window = window
        self.burst = burst
        self.policyName = policyName
        let (interval, remainder) = window.attoseconds.quotientAndRemainder(dividingBy: Int128(quota))
        let emission = remainder == 0 ? interval : interval + 1
        self.emissionInterval = Duration(attoseconds: emission)
        self.tolerance = Duration(attoseconds: emission * Int128(burst - 1))
        self.quotedPolicyName = RateLimitDecision.quoted(policyName)
        self.policyItem = "\(quotedPolicyName);q=\(quota);w=\(RateLimitDecision.secondsRoundedUp(window))"
    }

    /// Creates the limit for a manifest's `limits.requestsPerSecond` and `limits.burst`.
    ///
    /// The rate is written as a fraction `quota / window` with the smallest whole-second window that
    /// states it exactly: 100/s is `q=100, w=1`, 2.5/s is `q=5, w=2`, 0.5/s is `q=1, w=2`, 0.001/s is
    /// `q=1, w=1000`, and 1/3 (as a `Double`) is `q=1, w=3`. Every rate whose exact value is a fraction
    /// with a denominator of at most 86 400 is represented exactly; any other rate gets its closest
    /// continued-fraction convergent with a window of at most ``maximumPerSecondWindow``.
    ///
    /// Out-of-range values are clamped, failing closed: a rate that is NaN, zero, negative or slower
    /// than one per day becomes one request per day; a rate above ``maximumRequestsPerSecond`` (or
    /// infinite) becomes that maximum; `burst` is clamped to `1...maximumBurst`.
    ///
    /// - Parameters:
    ///   - requestsPerSecond: The sustained rate, possibly fractional.
    ///   - burst: Requests admitted at once.
    ///   - policyName: The policy's name in the rate-limit headers. Default `"default"`.
    /// - Returns: The limit.
    public static func perSecond(_ requestsPerSecond: Double, burst: Int, policyName: String = "default") -> RateLimit {
        let maximumWindowSeconds = Int(Self.maximumPerSecondWindow.components.seconds)
        let slowest = 1 / Double(maximumWindowSeconds)
        let rate: Double
        if requestsPerSecond.isNaN || requestsPerSecond <= slowest {
            rate = slowest
        } else {
            rate = min(requestsPerSecond, Self.maximumRequestsPerSecond)
        }
        var (quota, seconds) = Self.fraction(approximating: rate, maximumDenominator: maximumWindowSeconds)
        if quota < 1 {
            (quota, seconds) = (1, maximumWindowSeconds)
        }
        let clampedBurst = min(max(burst, 1), Self.maximumBurst)
        // In range by construction: quota >= 1, 1 <= seconds <= one day, burst clamped.
        return RateLimit(quota: quota, window: .seconds(seconds), burst: clampedBurst, policyName: policyName)!
    }

    static let attosecondsPerSecond: Int128 = 1_000_000_000_000_000_000

    /// The last continued-fraction convergent `p / q` of `x` with `q <= maximumDenominator`, stopping
    /// early once it equals `x` to within a relative 1e-12 (the rounding of a decimal in a `Double`).
    private static func fraction(approximating x: Double, maximumDenominator: Int) -> (numerator: Int, denominator: Int) {
        // Convergents h/k, starting from h(-2)/k(-2) = 0/1 and h(-1)/k(-1) = 1/0.
        var (h0, h1) = (0, 1)
        var (k0, k1) = (1, 0)
        var value = x
        for _ in 0..<64 {
            // `value` is positive, so truncation is the floor (and needs no libm).
            guard value < 0x1p62 else { break }
            let term = Int(value)
            let whole = Double(term)
            let (th, overflowH) = term.multipliedReportingOverflow(by: h1)
            let (tk, overflowK) = term.multipliedReportingOverflow(by: k1)
            guard !overflowH, !overflowK else { break }
            let (h2, k2) = (th + h0, tk + k0)
            guard k2 <= maximumDenominator else { break }
            (h0, h1) = (h1, h2)
            (k0, k1) = (k1, k2)
            if abs(Double(h1) / Double(k1) - x) <= x * 1e-12 { break }
            let fractional = value - whole
            guard fractional > 0 else { break }
            value = 1 / fractional
        }
        return k1 == 0 ? (0, 1) : (h1, k1)
    }
}
