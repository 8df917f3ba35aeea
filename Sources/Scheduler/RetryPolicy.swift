import ModelHostCore
import ModelManifest

/// Whether, and after how long, a failed call is tried again: the manifest's `retry` settings,
/// full-jitter exponential backoff, and a retry budget.
///
/// Only ``ModelHostError/Code/unavailable`` — the plugin saying it cannot take the call now — is
/// retried: every other failure is either the caller's (validation, refused input), local
/// overload, a timeout (the deadline has passed; nothing is left to retry within), or a plugin
/// failure that repeating would only repeat.
///
/// The budget keeps a sick plugin from a retry storm: each request adds
/// `budgetPercent / 100` of a retry to a balance capped at ``Configuration/budgetReserve``, each
/// retry spends one, and a retry the balance cannot pay for is refused. Over any stretch of
/// time, retries are at most `budgetPercent` of requests plus the reserve.
///
/// A pure value: the random source is injected, and time enters only as the time a request has
/// left, so every decision is tested exactly.
struct RetryPolicy<Random: RandomNumberGenerator> {
    /// The policy's settings.
    struct Configuration: Sendable, Hashable {
        /// Attempts in all, the first included. 1 turns retries off.
        var maxAttempts: Int
        /// The backoff base: retry `n` (from 0) waits a random time in `0...min(maxDelay, baseDelay × 2ⁿ)`.
        var baseDelay: Duration
        /// The backoff cap.
        var maxDelay: Duration
        /// Retries a request adds to the budget: `budgetPercent / 100`.
        var budgetRatio: Double
        /// The most retries the budget holds, and what it starts with, so a quiet version can
        /// still retry its first failures. Default 10.
        var budgetReserve: Double = 10

        /// The settings of a manifest's `retry`.
        init(_ settings: RetrySettings) {
            maxAttempts = settings.maxAttempts
            baseDelay = .milliseconds(settings.baseDelayMilliseconds)
            maxDelay = .milliseconds(settings.maxDelayMilliseconds)
            budgetRatio = settings.budgetPercent / 100
        }
    }

    /// What becomes of a failed call.
    enum Decision: Hashable, Sendable {
        /// Try again after this backoff.
        case retry(after: Duration)
        /// Answer the caller with the failure.
        case giveUp(Reason)
    }

    /// Why a failed call is not tried again.
    enum Reason: Hashable, Sendable {
        /// Its code is not retried.
        case notRetryable
        /// It has had `maxAttempts` attempts.
        case attemptsExhausted
        /// The backoff would end at or past the request's deadline.
        case deadline
        /// The retry budget is spent.
        case budgetExhausted
    }

    let configuration: Configuration
    private var random: Random
    /// Retries the budget can pay for.
    private(set) var balance: Double

    /// Creates a policy with a full budget.
    init(configuration: Configuration, random: Random) {
        self.configuration = configuration
        self.random = random
        self.balance = configuration.budgetReserve
    }

    /// A request arrived: it adds its share to the budget.
    mutating func requestArrived() {
        balance = min(configuration.budgetReserve, balance + configuration.budgetRatio)
    }

    /// Decides about a call that failed with `code` after `attempts` attempts (the failed one
    /// included), with `timeLeft` before its request's deadline. A retry it allows is paid for
    /// from the budget.
    mutating func decide(after code: ModelHostError.Code, attempts: Int, timeLeft: Duration) -> Decision {
        guard Self.isRetryable(code) else { return .giveUp(.notRetryable) }
        guard attempts < configuration.maxAttempts else { return .giveUp(.attemptsExhausted) }
        let delay = backoff(retry: attempts - 1)
        guard delay < timeLeft else { return .giveUp(.deadline) }
        guard balance >= 1 else { return .giveUp(.budgetExhausted) }
        balance -= 1
        return .retry(after: delay)
    }

    /// Whether a failure with `code` is ever retried: only ``ModelHostError/Code/unavailable``.
    static func isRetryable(_ code: ModelHostError.Code) -> Bool {
        code == .unavailable
    }

    /// The longest backoff of retry `retry` (from 0): `min(maxDelay, baseDelay × 2^retry)`.
    func backoffCap(retry: Int) -> Duration {
        let base = configuration.baseDelay
        guard base > .zero else { return .zero }
        guard (retry < 32) else { return configuration.maxDelay }
        return min(configuration.maxDelay, base * (1 << retry))
    }

    /// A full-jitter backoff: uniformly random in `0...backoffCap(retry:)`, to the nanosecond.
    private mutating func backoff(retry: Int) -> Duration {
        let cap = backoffCap(retry: retry)
        let nanoseconds = cap.components.seconds * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanoseconds, using: &random))
    }
}
