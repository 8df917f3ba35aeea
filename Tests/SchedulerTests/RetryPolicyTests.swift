import ModelHostCore
import ModelManifest
import Testing

@testable import Scheduler

/// Which failures are retried, after how long, and how the budget bounds them.
struct RetryPolicyTests {
    private func policy(maxAttempts: Int = 3, base: Int = 25, cap: Int = 500, budgetPercent: Double = 20, reserve: Double = 10, seed: UInt64 = 7) -> RetryPolicy<SplitMix64> {
        var settings = RetrySettings()
        settings.maxAttempts = maxAttempts
        settings.baseDelayMilliseconds = base
        settings.maxDelayMilliseconds = cap
        settings.budgetPercent = budgetPercent
        var configuration = RetryPolicy<SplitMix64>.Configuration(settings)
        configuration.budgetReserve = reserve
        return RetryPolicy(configuration: configuration, random: SplitMix64(seed: seed))
    }

    @Test func backoffIsFullJitterWithinTheExponentialCap() {
        var retries = policy(maxAttempts: 10, base: 25, cap: 500, reserve: 10_000)
        #expect(retries.backoffCap(retry: 0) == .milliseconds(25))
        #expect(retries.backoffCap(retry: 1) == .milliseconds(50))
        #expect(retries.backoffCap(retry: 4) == .milliseconds(400))
        #expect(retries.backoffCap(retry: 5) == .milliseconds(500))
        #expect(retries.backoffCap(retry: 60) == .milliseconds(500))
        for attempts in 1...9 {
            var delays: [Duration] = []
            for _ in 0..<200 {
                guard case .retry(let delay) = retries.decide(after: .unavailable, attempts: attempts, timeLeft: .seconds(10)) else {
                    Issue.record("attempt \(attempts) was not retried")
                    return
                }
                delays.append(delay)
            }
            let cap = retries.backoffCap(retry: attempts - 1)
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= cap })
            // Spread across the range, not stuck at an end.
            #expect(delays.min()! < cap / 4)
            #expect(delays.max()! > cap * 3 / 4)
        }
    }

    @Test func aSeededSourceGivesTheSameBackoffs() {
        var first = policy(seed: 42)
        var second = policy(seed: 42)
        for _ in 0..<5 {
            #expect(first.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(1)) == second.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(1)))
        }
    }

    @Test func onlyUnavailableIsRetried() {
        var retries = policy()
        for code: ModelHostError.Code in [.pluginError, .timeout, .overloaded, .validation, .pluginRefusedInput, .cancelled, .internal, .modelNotReady] {
            #expect(retries.decide(after: code, attempts: 1, timeLeft: .seconds(1)) == .giveUp(.notRetryable))
        }
        #expect(retries.balance == 10)
    }

    @Test func attemptsStopAtMaxAttempts() {
        var retries = policy(maxAttempts: 3)
        guard case .retry = retries.decide(after: .unavailable, attempts: 2, timeLeft: .seconds(1)) else {
            Issue.record("the second attempt's failure was not retried")
            return
        }
        #expect(retries.decide(after: .unavailable, attempts: 3, timeLeft: .seconds(1)) == .giveUp(.attemptsExhausted))
        var once = policy(maxAttempts: 1)
        #expect(once.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(1)) == .giveUp(.attemptsExhausted))
    }

    @Test func aBackoffNeverEndsPastTheDeadline() {
        var retries = policy(base: 100, cap: 100, reserve: 10_000)
        var retried = 0
        for _ in 0..<500 {
            switch retries.decide(after: .unavailable, attempts: 1, timeLeft: .milliseconds(50)) {
            case .retry(let delay):
                #expect(delay < .milliseconds(50))
                retried += 1
            case .giveUp(let reason):
                #expect(reason == .deadline)
            }
        }
        // About half of uniform delays in 0...100 ms fall before 50 ms.
        #expect(retried > 150 && retried < 350)
        #expect(retries.decide(after: .unavailable, attempts: 1, timeLeft: .zero) == .giveUp(.deadline))
    }

    @Test func theBudgetAllowsItsShareOfRequestsAndItsReserve() {
        var retries = policy(maxAttempts: 2, budgetPercent: 20, reserve: 3)
        func retry() -> Bool {
            if case .retry = retries.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(10)) { return true }
            return false
        }
        // The reserve: three retries before any request has paid for one.
        #expect(retry() && retry() && retry())
        #expect(retries.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(10)) == .giveUp(.budgetExhausted))
        // Then one retry for every five requests, never more.
        var allowed = 0
        for _ in 0..<100 {
            retries.requestArrived()
            if retry() { allowed += 1 }
        }
        #expect(allowed == 20)
        // A quiet stretch refills only up to the reserve.
        for _ in 0..<1000 { retries.requestArrived() }
        #expect(retries.balance == 3)
        var zero = policy(budgetPercent: 0, reserve: 0)
        zero.requestArrived()
        #expect(zero.decide(after: .unavailable, attempts: 1, timeLeft: .seconds(1)) == .giveUp(.budgetExhausted))
    }
}
