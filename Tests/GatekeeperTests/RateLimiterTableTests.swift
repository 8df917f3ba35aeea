import Gatekeeper
import ModelHostTestKit
import Testing

/// GCRA decisions of `RateLimiterTable`, exact to the nanosecond with manual instants, and its bound.
struct RateLimiterTableTests {
    typealias Table = RateLimiterTable<ManualClock.Instant>

    private static func at(_ offset: Duration) -> ManualClock.Instant { ManualClock.Instant(offset: offset) }

    private static let tenPerSecond = RateLimit(quota: 10, window: .seconds(1), burst: 1)!
    private static let tenPerSecondBurstFive = RateLimit(quota: 10, window: .seconds(1), burst: 5)!

    // MARK: Exact boundaries

    @Test func admitsExactlyAtTheEmissionInterval() {
        var table = Table()
        let limit = Self.tenPerSecond
        #expect(table.admit("a", limit: limit, at: Self.at(.zero)).isAllowed)

        let early = table.admit("a", limit: limit, at: Self.at(.nanoseconds(99_999_999)))
        #expect(!early.isAllowed)
        #expect(early.retryAfter == .nanoseconds(1))
        #expect(early.retryAfterHeader == "1")

        let onTime = table.admit("a", limit: limit, at: Self.at(.milliseconds(100)))
        #expect(onTime == RateLimitDecision(isAllowed: true, remaining: 0, retryAfter: .zero, resetAfter: .milliseconds(100)))
    }

    @Test func burstAdmitsBurstAtOnceThenRefusesForExactlyOneInterval() {
        var table = Table()
        let limit = Self.tenPerSecondBurstFive
        for expected in [4, 3, 2, 1, 0] {
            let decision = table.admit("a", limit: limit, at: Self.at(.zero))
            #expect(decision.isAllowed)
            #expect(decision.remaining == expected)
        }
        let sixth = table.admit("a", limit: limit, at: Self.at(.zero))
        #expect(sixth == RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: .milliseconds(100), resetAfter: .milliseconds(500)))
        #expect(sixth.rateLimitHeader(limit) == #""default";r=0;t=1"#)
        #expect(table.admit("a", limit: limit, at: Self.at(.milliseconds(100))).isAllowed)
    }

    @Test func refillsAtTheSustainedRate() {
        var table = Table()
        let limit = Self.tenPerSecondBurstFive
        for _ in 0..<5 { table.admit("a", limit: limit, at: Self.at(.zero)) }
        // 250 ms later two intervals have passed: two admits, then a refusal until 300 ms.
        let now = Self.at(.milliseconds(250))
        #expect(table.admit("a", limit: limit, at: now).isAllowed)
        #expect(table.admit("a", limit: limit, at: now).isAllowed)
        let refused = table.admit("a", limit: limit, at: now)
        #expect(!refused.isAllowed)
        #expect(refused.retryAfter == .milliseconds(50))
        // A whole idle window restores the full burst.
        let rested = table.check("a", limit: limit, at: Self.at(.milliseconds(700)))
        #expect(rested.isAllowed)
        #expect(rested.remaining == 4)
    }

    @Test func sustainedFloodIsAdmittedExactlyBurstPlusElapsedOverInterval() {
        // 100/s with burst 20, a request every millisecond for [0, 10 s): at most
        // burst + floor(9.999 s / 10 ms) = 20 + 999 admitted, and GCRA admits exactly that many.
        var table = Table()
        let limit = RateLimit(quota: 100, window: .seconds(1), burst: 20)!
        var admitted = 0
        for millisecond in 0..<10_000 where table.admit("a", limit: limit, at: Self.at(.milliseconds(millisecond))).isAllowed {
            admitted += 1
        }
        #expect(admitted == 1019)
    }

    @Test func fractionalRateIsExactOverItsWindow() {
        // 2.5/s is 5 per 2 s: a T of 400 ms exactly, with no drift after many intervals.
        var table = Table()
        let limit = RateLimit.perSecond(2.5, burst: 1)
        for step in 0..<1_000 {
            let now = Self.at(.milliseconds(400 * step))
            #expect(table.admit("a", limit: limit, at: now).isAllowed)
            #expect(!table.check("a", limit: limit, at: now.advanced(by: .milliseconds(400) - .nanoseconds(1))).isAllowed)
        }
    }

    // MARK: Keys and purity

    @Test func oneKeysFloodNeverChangesAnothersDecisions() {
        var flooded = Table()
        var fresh = Table()
        let limit = Self.tenPerSecondBurstFive
        for step in 0..<200 {
            let now = Self.at(.milliseconds(7 * step))
            for _ in 0..<10 { flooded.admit("flooder", limit: limit, at: now) }
            if step % 3 == 0 {
                #expect(flooded.admit("quiet", limit: limit, at: now) == fresh.admit("quiet", limit: limit, at: now))
            }
        }
    }

    @Test func checkWithoutRecordLeavesStateUnchanged() {
        var table = Table()
        let limit = Self.tenPerSecondBurstFive
        let first = table.check("a", limit: limit, at: Self.at(.zero))
        for _ in 0..<10 {
            #expect(table.check("a", limit: limit, at: Self.at(.zero)) == first)
        }
        #expect(table.count == 0)
        #expect(table.admit("a", limit: limit, at: Self.at(.zero)) == first)
        #expect(table.count == 1)
    }

    @Test func checkIsExactlyWhatAdmitDoes() {
        var table = Table()
        let limit = Self.tenPerSecondBurstFive
        for step in 0..<500 {
            let now = Self.at(.milliseconds(13 * step / 4))
            let key = "k\(step % 3)"
            let checked = table.check(key, limit: limit, at: now)
            #expect(table.admit(key, limit: limit, at: now) == checked)
        }
    }

    @Test func severalLimitsAreRecordedOnlyWhenAllAdmit() {
        var perModel = Table()
        var perKey = Table()
        let modelLimit = RateLimit(quota: 10, window: .seconds(1), burst: 3, policyName: "model")!
        let keyLimit = RateLimit(quota: 10, window: .seconds(1), burst: 2, policyName: "key")!
        let now = Self.at(.zero)
        var admitted = 0
        for _ in 0..<5 {
            let decisions = [perModel.check("m", limit: modelLimit, at: now), perKey.check("alice", limit: keyLimit, at: now)]
            if decisions.allSatisfy(\.isAllowed) {
                perModel.record("m", limit: modelLimit, at: now)
                perKey.record("alice", limit: keyLimit, at: now)
                admitted += 1
            }
        }
        #expect(admitted == 2)
        // The model limit still has the burst slot the refused requests did not use.
        #expect(perModel.check("m", limit: modelLimit, at: now).remaining == 0)
        #expect(perModel.check("m", limit: modelLimit, at: now).isAllowed)
    }

    // MARK: Expiry and the bound

    @Test func expiredEntriesAreDroppedAndDecideLikeFreshKeys() {
        var table = Table()
        let limit = Self.tenPerSecondBurstFive
        for _ in 0..<3 { table.admit("a", limit: limit, at: Self.at(.zero)) }  // TAT 300 ms
        let later = Self.at(.milliseconds(300))
        #expect(table.check("a", limit: limit, at: later) == Table().check("a", limit: limit, at: later))
        table.admit("b", limit: limit, at: later)  // Any record drops what has expired.
        #expect(table.count == 1)
        #expect(table.admit("a", limit: limit, at: later) == Table().check("a", limit: limit, at: later))
        #expect(table.count == 2)
    }

    @Test func millionDistinctKeysWithAnAdvancingClockStayBounded() {
        // T = 1 ms and burst 1: an entry lives exactly 1 ms, and keys arrive every microsecond, so
        // the table never holds more than the 1 000 keys of the last millisecond.
        var table = Table()
        let limit = RateLimit(quota: 1_000, window: .seconds(1), burst: 1)!
        var largest = 0
        var refused = 0
        for step in 0..<1_000_000 {
            if !table.admit(String(step), limit: limit, at: Self.at(.microseconds(step))).isAllowed {
                refused += 1
            }
            largest = max(largest, table.count)
        }
        #expect(refused == 0)
        #expect(largest == 1_000)
        #expect(table.count == 1_000)
    }

    @Test func storageShrinksAfterAFloodAndKeepsDecidingExactly() {
        var table = Table()
        let brief = Self.tenPerSecond  // Entries live 100 ms.
        let long = RateLimit(quota: 1, window: .seconds(60), burst: 1)!  // Entries live 60 s.
        for index in 0..<10_000 { table.admit("flood-\(index)", limit: brief, at: Self.at(.zero)) }
        for index in 0..<10 { table.admit("steady-\(index)", limit: long, at: Self.at(.milliseconds(index))) }
        #expect(table.count == 10_010)

        let later = Self.at(.seconds(1))
        table.admit("x", limit: long, at: later)  // Drops the flood; the storage is rebuilt.
        #expect(table.count == 11)
        for index in 0..<10 {
            let decision = table.check("steady-\(index)", limit: long, at: later)
            #expect(decision.retryAfter == .seconds(59) + .milliseconds(index))
        }
        #expect(!table.check("x", limit: long, at: later).isAllowed)
        #expect(table.check("flood-0", limit: brief, at: later) == Table().check("flood-0", limit: brief, at: later))
        // The rebuilt heap still expires in order.
        table.admit("y", limit: long, at: .init(offset: .seconds(60) + .milliseconds(4)))
        #expect(table.count == 7)  // steady-5...9, x and y.
    }

    @Test func matchesAReferenceModelOverRandomTraffic() {
        // A direct transcription of GCRA with a bound on live entries: a key with a live TAT is
        // decided by GCRA; any other key is admitted iff fewer than `maxEntries` TATs are live.
        struct Reference {
            var tats: [String: Duration] = [:]
            let maxEntries: Int
            func decide(_ key: String, _ limit: RateLimit, _ now: Duration) -> RateLimitDecision {
                let live = tats.values.filter { $0 > now }
                let tat = tats[key].map { max($0, now) } ?? now
                if tat == now, live.count >= maxEntries, let earliest = live.min() {
                    return RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: earliest - now, resetAfter: earliest - now)
                }
                if tat - limit.tolerance > now {
                    return RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: tat - limit.tolerance - now, resetAfter: tat - now)
                }
                let after = tat + limit.emissionInterval
                var remaining = 0
                while after + limit.emissionInterval * remaining - limit.tolerance <= now { remaining += 1 }
                return RateLimitDecision(isAllowed: true, remaining: remaining, retryAfter: .zero, resetAfter: after - now)
            }
            mutating func record(_ key: String, _ limit: RateLimit, _ now: Duration) {
                tats[key] = max(tats[key] ?? now, now) + limit.emissionInterval
            }
            func liveCount(at now: Duration) -> Int { tats.values.filter { $0 > now }.count }
        }

        let limits = [
            RateLimit(quota: 10, window: .seconds(1), burst: 3)!,
            RateLimit(quota: 7, window: .seconds(3), burst: 1)!,
        ]
        var table = Table(configuration: .init(maxEntries: 8))
        var reference = Reference(maxEntries: 8)
        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((random >> 33) % UInt64(bound))
        }
        var now = Duration.zero
        var mismatches = 0
        var (admitted, refusedByRate, refusedAsFull) = (0, 0, 0)
        for _ in 0..<20_000 {
            now += .nanoseconds(next(60_000_000))
            let keyIndex = next(20)
            let key = "k\(keyIndex)"
            let limit = limits[keyIndex % 2]
            let expected = reference.decide(key, limit, now)
            if expected.isAllowed {
                admitted += 1
            } else if reference.tats[key].map({ $0 > now }) ?? false {
                refusedByRate += 1
            } else {
                refusedAsFull += 1
            }
            let checked = next(4) == 0
            let actual = checked
                ? table.check(key, limit: limit, at: .init(offset: now))
                : table.admit(key, limit: limit, at: .init(offset: now))
            if actual != expected { mismatches += 1 }
            if !checked, expected.isAllowed {
                reference.record(key, limit, now)
                if table.count != reference.liveCount(at: now) { mismatches += 1 }
            }
            if table.count > 8 { mismatches += 1 }
        }
        #expect(mismatches == 0)
        // The traffic reaches every branch, each many times.
        #expect(admitted > 1_000)
        #expect(refusedByRate > 1_000)
        #expect(refusedAsFull > 100)
    }

    @Test func fullTableRefusesNewKeysButServesExistingOnes() {
        var table = Table(configuration: .init(maxEntries: 3))
        let limit = RateLimit(quota: 10, window: .seconds(1), burst: 2)!  // T 100 ms, tau 100 ms
        table.admit("a", limit: limit, at: Self.at(.zero))  // TAT 100 ms
        table.admit("b", limit: limit, at: Self.at(.milliseconds(10)))  // TAT 110 ms
        table.admit("c", limit: limit, at: Self.at(.milliseconds(20)))  // TAT 120 ms
        #expect(table.count == 3)

        let now = Self.at(.milliseconds(30))
        let newcomer = table.admit("d", limit: limit, at: now)
        #expect(newcomer == RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: .milliseconds(70), resetAfter: .milliseconds(70)))
        #expect(table.count == 3)

        // Existing keys keep their exact decisions; "a" uses its second burst slot (TAT 200 ms).
        #expect(table.admit("a", limit: limit, at: now).isAllowed)
        #expect(!table.admit("a", limit: limit, at: now).isAllowed)

        // The earliest entry now is "b" at 110 ms; a new key is admitted exactly then, and
        // only the expired entry makes room: "c" and "a" are untouched.
        let stillFull = table.check("d", limit: limit, at: Self.at(.milliseconds(110) - .nanoseconds(1)))
        #expect(!stillFull.isAllowed)
        #expect(stillFull.retryAfter == .nanoseconds(1))
        let freed = Self.at(.milliseconds(110))
        let cBefore = table.check("c", limit: limit, at: freed)
        let aBefore = table.check("a", limit: limit, at: freed)
        #expect(table.admit("d", limit: limit, at: freed).isAllowed)
        #expect(table.count == 3)
        #expect(table.check("c", limit: limit, at: freed) == cBefore)
        #expect(table.check("a", limit: limit, at: freed) == aBefore)
        #expect(!table.check("e", limit: limit, at: freed).isAllowed)
    }

    @Test func defaultConfigurationAllowsAMillionEntries() {
        #expect(Table.Configuration().maxEntries == 1_000_000)
        // A bound below one is treated as one.
        var table = Table(configuration: .init(maxEntries: 0))
        #expect(table.admit("a", limit: Self.tenPerSecond, at: Self.at(.zero)).isAllowed)
        #expect(!table.admit("b", limit: Self.tenPerSecond, at: Self.at(.zero)).isAllowed)
    }

    @Test func worksWithARealClocksInstants() {
        var table = RateLimiterTable<ContinuousClock.Instant>()
        let start = ContinuousClock.now
        let limit = Self.tenPerSecond
        #expect(table.admit("a", limit: limit, at: start).isAllowed)
        #expect(!table.admit("a", limit: limit, at: start.advanced(by: .milliseconds(50))).isAllowed)
        #expect(table.admit("a", limit: limit, at: start.advanced(by: .milliseconds(100))).isAllowed)
    }
}
