import Gatekeeper
import Testing

/// `RateLimit` validation and derivation, the manifest-rate conversion, and the header values of
/// `RateLimitDecision`.
struct RateLimitTests {
    // MARK: Validation

    @Test func validLimitDerivesIntervalAndTolerance() throws {
        let limit = try #require(RateLimit(quota: 100, window: .seconds(1), burst: 20, policyName: "model"))
        #expect(limit.quota == 100)
        #expect(limit.window == .seconds(1))
        #expect(limit.burst == 20)
        #expect(limit.policyName == "model")
        #expect(limit.emissionInterval == .milliseconds(10))
        #expect(limit.tolerance == .milliseconds(190))
    }

    @Test func policyNameDefaultsToDefault() throws {
        let limit = try #require(RateLimit(quota: 1, window: .seconds(1), burst: 1))
        #expect(limit.policyName == "default")
        #expect(limit.tolerance == .zero)
    }

    @Test(arguments: [
        (0, Duration.seconds(1), 1),  // no quota
        (-5, .seconds(1), 1),
        (1, .seconds(1), 0),  // no burst
        (1, .seconds(1), -1),
        (1, .zero, 1),  // empty window
        (1, .seconds(-1), 1),
        (1, .milliseconds(1500), 1),  // not whole seconds
        (1, .milliseconds(100), 1),
        (1, RateLimit.maximumWindow + .seconds(1), 1),
        (1, .seconds(1), RateLimit.maximumBurst + 1),
    ])
    func invalidLimitsCannotBeMade(quota: Int, window: Duration, burst: Int) {
        #expect(RateLimit(quota: quota, window: window, burst: burst) == nil)
    }

    @Test func emissionIntervalRoundsUpSoTheQuotaIsNeverExceeded() throws {
        let limit = try #require(RateLimit(quota: 3, window: .seconds(1), burst: 1))
        let interval = limit.emissionInterval.attoseconds
        #expect(interval * 3 >= Duration.seconds(1).attoseconds)
        #expect(interval * 3 - Duration.seconds(1).attoseconds < 3)
    }

    // MARK: Manifest rates

    @Test(arguments: [
        (100.0, 100, 1),
        (2.5, 5, 2),
        (0.5, 1, 2),
        (1.0, 1, 1),
        (0.3, 3, 10),
        (1.0 / 3.0, 1, 3),
        (0.001, 1, 1000),
        (1_000_000, 1_000_000, 1),
        (123.456, 15432, 125),
    ])
    func perSecondFindsAnExactWholeSecondWindow(rate: Double, quota: Int, seconds: Int64) {
        let limit = RateLimit.perSecond(rate, burst: 20)
        #expect(limit.quota == quota)
        #expect(limit.window == .seconds(seconds))
        #expect(limit.burst == 20)
    }

    @Test func perSecondKeepsTheRateExact() {
        #expect(RateLimit.perSecond(2.5, burst: 1).emissionInterval == .milliseconds(400))
        #expect(RateLimit.perSecond(0.5, burst: 1).emissionInterval == .seconds(2))
        #expect(RateLimit.perSecond(100, burst: 1).emissionInterval == .milliseconds(10))
    }

    @Test(arguments: [0.0, -1.0, .nan, 1e-9, -.infinity])
    func perSecondClampsUnusableRatesToOnePerDay(rate: Double) {
        let limit = RateLimit.perSecond(rate, burst: 3)
        #expect(limit.quota == 1)
        #expect(limit.window == .seconds(86_400))
    }

    @Test func perSecondClampsFastRatesAndBursts() {
        let fast = RateLimit.perSecond(.infinity, burst: 0)
        #expect(fast.quota == Int(RateLimit.maximumRequestsPerSecond))
        #expect(fast.window == .seconds(1))
        #expect(fast.burst == 1)
        #expect(RateLimit.perSecond(1, burst: .max).burst == RateLimit.maximumBurst)
        #expect(RateLimit.perSecond(1, burst: 7, policyName: "model").policyName == "model")
    }

    // MARK: Headers

    private static let model = RateLimit(quota: 100, window: .seconds(1), burst: 20, policyName: "model")!

    private static func refused(retryAfter: Duration, resetAfter: Duration = .seconds(1)) -> RateLimitDecision {
        RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: retryAfter, resetAfter: resetAfter)
    }

    @Test(arguments: [
        (Duration.nanoseconds(1), "1"),
        (.milliseconds(10), "1"),
        (.seconds(1), "1"),
        (.seconds(1) + .nanoseconds(1), "2"),
        (.milliseconds(1200), "2"),
        (.seconds(60), "60"),
        (.zero, "1"),  // refused: never tell a client to retry at once
    ])
    func retryAfterIsWholeSecondsRoundedUp(retryAfter: Duration, header: String) {
        #expect(Self.refused(retryAfter: retryAfter).retryAfterHeader == header)
    }

    @Test func admittedDecisionHasNoWait() {
        let decision = RateLimitDecision(isAllowed: true, remaining: 3, retryAfter: .zero, resetAfter: .milliseconds(40))
        #expect(decision.retryAfterSeconds == 0)
        #expect(decision.retryAfterHeader == "0")
    }

    @Test func policyAndRateLimitHeaders() {
        let decision = Self.refused(retryAfter: .milliseconds(10), resetAfter: .milliseconds(200))
        #expect(decision.rateLimitPolicyHeader(Self.model) == #""model";q=100;w=1"#)
        #expect(decision.rateLimitHeader(Self.model) == #""model";r=0;t=1"#)

        let slow = RateLimit(quota: 100, window: .seconds(60), burst: 100)!
        let admitted = RateLimitDecision(isAllowed: true, remaining: 50, retryAfter: .zero, resetAfter: .milliseconds(11_200))
        #expect(admitted.rateLimitPolicyHeader(slow) == #""default";q=100;w=60"#)
        #expect(admitted.rateLimitHeader(slow) == #""default";r=50;t=12"#)
    }

    @Test func resetIsRoundedUp() {
        let decision = Self.refused(retryAfter: .seconds(1), resetAfter: .seconds(3) + .nanoseconds(1))
        #expect(decision.rateLimitHeader(Self.model) == #""model";r=0;t=4"#)
    }

    @Test func policyNamesAreQuotedAsStructuredFieldStrings() {
        let odd = RateLimit(quota: 1, window: .seconds(1), burst: 1, policyName: "a\"b\\c\u{e9}")!
        let decision = Self.refused(retryAfter: .seconds(1))
        #expect(decision.rateLimitPolicyHeader(odd) == #""a\"b\\c?";q=1;w=1"#)
    }

    @Test func headerFieldsForOneDecision() {
        let refused = Self.refused(retryAfter: .milliseconds(10), resetAfter: .milliseconds(200))
        let fields = refused.headerFields(for: Self.model)
        #expect(fields.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After"])
        #expect(fields.map(\.value) == [#""model";q=100;w=1"#, #""model";r=0;t=1"#, "1"])

        let admitted = RateLimitDecision(isAllowed: true, remaining: 19, retryAfter: .zero, resetAfter: .milliseconds(10))
        #expect(admitted.headerFields(for: Self.model).map(\.name) == ["RateLimit-Policy", "RateLimit"])
    }

    @Test func headerFieldsForSeveralLimitsListEveryPolicyAndTheLongestWait() {
        let key = RateLimit(quota: 10, window: .seconds(60), burst: 10, policyName: "key")!
        let fields = RateLimitDecision.headerFields(for: [
            (RateLimitDecision(isAllowed: true, remaining: 5, retryAfter: .zero, resetAfter: .milliseconds(150)), Self.model),
            (Self.refused(retryAfter: .milliseconds(5_500), resetAfter: .seconds(60)), key),
        ])
        #expect(fields.map(\.name) == ["RateLimit-Policy", "RateLimit", "Retry-After"])
        #expect(fields.map(\.value) == [
            #""model";q=100;w=1, "key";q=10;w=60"#,
            #""model";r=5;t=1, "key";r=0;t=60"#,
            "6",
        ])
        #expect(RateLimitDecision.headerFields(for: []).isEmpty)
    }
}
