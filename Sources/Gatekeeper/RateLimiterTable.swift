/// The rate-limit state of many clients: one theoretical arrival time (TAT) per key, checked and
/// advanced by the generic cell rate algorithm (GCRA).
///
/// For a ``RateLimit`` with emission interval `T` and tolerance `tau`, a request from a key at `now`
/// is admitted if and only if `now >= TAT - tau`; admitting it sets `TAT = max(TAT, now) + T`.
/// A key with no entry behaves as if its TAT were `now`. All arithmetic is integer arithmetic on
/// `Duration` attoseconds, so the decisions are exact at any boundary and never drift.
///
/// ## Bounded memory without evicting live state
///
/// An entry whose TAT is at or before `now` decides exactly like a key never seen, so dropping it
/// changes no decision. Entries are kept in a min-heap ordered by TAT, and every ``record(_:limit:at:)``
/// first drops all entries that have expired. The table therefore holds only the keys whose
/// TAT is still ahead of the clock as of the last record: a flood of distinct keys with an advancing
/// clock occupies at most the keys admitted within one entry lifetime (`T + tau` at most).
/// Each entry is inserted and removed once, and an admitted key moves once in the heap, so every
/// operation costs O(log n) in the number of live entries (a hash lookup plus at most one sift).
/// Once three quarters of the storage is free (after a flood) it is rebuilt around the live
/// entries, so the memory goes back too, at an amortised O(1) per removed entry.
///
/// ## Failing closed when full
///
/// The table never evicts a live entry: that would hand a flooder a fresh burst. When it holds
/// ``Configuration/maxEntries`` live entries, a request from a *new* key is refused, with
/// ``RateLimitDecision/retryAfter`` set to the time until the earliest entry expires (when a slot
/// frees up). Keys already in the table keep their exact decisions.
///
/// ## Several limits per request
///
/// ``check(_:limit:at:)`` is pure and tells exactly what ``record(_:limit:at:)`` would do at the same
/// instant, so a caller can check several (table, key, limit) triples and record them all only if all
/// admit. ``admit(_:limit:at:)`` is the one-limit shorthand.
///
/// The table is a value: give it to one owner (an actor, or a `Mutex`) and call it from there.
/// ``Gatekeeper`` keeps the same state in shards, each behind a `Mutex` of its own.
public struct RateLimiterTable<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// How large a ``RateLimiterTable`` may grow.
    public struct Configuration: Sendable, Hashable {
        /// The most entries the table holds; a new key that would exceed it is refused (fail closed).
        /// Default 1 000 000: about 130 MB when full of keys of up to 15 bytes (longer keys add
        /// their own storage). Values below 1 are treated as 1.
        public var maxEntries: Int = 1_000_000

        /// Creates a configuration.
        ///
        /// - Parameter maxEntries: The most entries the table holds. Default 1 000 000.
        public init(maxEntries: Int = 1_000_000) {
            self.maxEntries = maxEntries
        }
    }

    /// The instant times are measured from, set by the first ``record(_:limit:at:)``.
    private var origin: Instant?
    /// The entries, with times as attoseconds since ``origin``.
    private var store: TATStore<String>

    /// Creates an empty table.
    ///
    /// - Parameter configuration: The table's bound. Default ``Configuration/init(maxEntries:)``.
    public init(configuration: Configuration = Configuration()) {
        self.store = TATStore(maxEntries: max(1, configuration.maxEntries))
    }

    /// The number of entries held, including any that expired since the last record.
    public var count: Int { store.count }

    /// Whether the table holds state for `key`. A refusal for a key it does not hold can only
    /// mean the table is full.
    public func isTracking(_ key: String) -> Bool {
        store.contains(key)
    }

    /// Decides whether a request from `key` at `now` would be admitted under `limit`, without
    /// changing anything.
    ///
    /// The decision is exactly the one ``admit(_:limit:at:)`` would return at `now`.
    ///
    /// - Parameters:
    ///   - key: The client, model or combination being limited.
    ///   - limit: The limit to check against.
    ///   - now: The current instant.
    /// - Returns: The decision; when admitted, ``RateLimitDecision/remaining`` and
    ///   ``RateLimitDecision/resetAfter`` describe the state after recording the request.
    public func check(_ key: String, limit: RateLimit, at now: Instant) -> RateLimitDecision {
        guard let origin else {
            return store.check(key, limit: limit, at: 0)
        }
        return store.check(key, limit: limit, at: origin.duration(to: now).attoseconds)
    }

    /// Records one admitted request from `key` at `now` under `limit`.
    ///
    /// Call it after ``check(_:limit:at:)`` admitted the request at the same instant. It first drops
    /// every expired entry, then sets the key's TAT to `max(TAT, now) + T`. It does not check the
    /// limit or the bound itself: recording a request that ``check(_:limit:at:)`` refused pushes the
    /// key's TAT further, and recording a new key in a full table exceeds ``Configuration/maxEntries``.
    ///
    /// - Parameters:
    ///   - key: The client, model or combination being limited.
    ///   - limit: The limit the request was checked against.
    ///   - now: The current instant.
    public mutating func record(_ key: String, limit: RateLimit, at now: Instant) {
        let origin = self.origin ?? now
        self.origin = origin
        store.record(key, limit: limit, at: origin.duration(to: now).attoseconds)
    }

    /// Checks a request from `key` at `now` against `limit` and records it when admitted.
    ///
    /// - Parameters:
    ///   - key: The client, model or combination being limited.
    ///   - limit: The limit to enforce.
    ///   - now: The current instant.
    /// - Returns: The decision, as ``check(_:limit:at:)`` describes it.
    @discardableResult
    public mutating func admit(_ key: String, limit: RateLimit, at now: Instant) -> RateLimitDecision {
        let decision = check(key, limit: limit, at: now)
        if decision.isAllowed {
            record(key, limit: limit, at: now)
        }
        return decision
    }
}
