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
/// The table is a value: give it to one owner (an actor) and call it from there.
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
    private var store: TATStore

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

/// The state of a ``RateLimiterTable`` with times as attoseconds since its origin: a map from key to
/// entry and a min-heap of the entries by TAT. Not generic, so it runs at full speed unspecialised.
private struct TATStore: Sendable {
    /// One key's state: its TAT and its position in ``heap``.
    private struct Entry: Sendable {
        var key: String
        var tat: Int128
        var heapIndex: Int
    }

    /// A heap node: the TAT (copied, so sifting reads only the heap) and the entry's slot.
    private struct Node: Sendable {
        var tat: Int128
        var slot: Int
    }

    private let maxEntries: Int
    /// Key to slot in ``entries``.
    private var slots: [String: Int] = [:]
    /// The entries, by slot; a freed slot is reused through ``freeSlots``.
    private var entries: [Entry] = []
    private var freeSlots: [Int] = []
    /// A binary min-heap of the entries ordered by TAT; its root expires first.
    private var heap: [Node] = []

    init(maxEntries: Int) {
        self.maxEntries = maxEntries
    }

    var count: Int { heap.count }

    func contains(_ key: String) -> Bool { slots[key] != nil }

    func check(_ key: String, limit: RateLimit, at now: Int128) -> RateLimitDecision {
        if let slot = slots[key] {
            return Self.decide(tat: entries[slot].tat, now: now, limit: limit)
        }
        if heap.count >= maxEntries, let earliest = heap.first?.tat, earliest > now {
            // Full of live entries: refuse the new key until the earliest entry expires.
            let wait = Duration(attoseconds: earliest - now)
            return RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: wait, resetAfter: wait)
        }
        return Self.decide(tat: now, now: now, limit: limit)
    }

    mutating func record(_ key: String, limit: RateLimit, at now: Int128) {
        removeExpired(at: now)
        let interval = limit.emissionInterval.attoseconds
        if let slot = slots[key] {
            let tat = max(entries[slot].tat, now) + interval
            entries[slot].tat = tat
            let index = entries[slot].heapIndex
            heap[index].tat = tat
            siftDown(from: index)  // The TAT only grows.
        } else {
            insert(key, tat: now + interval)
        }
    }

    // MARK: GCRA

    /// The GCRA decision for a key whose TAT is `tat` (or `now` for a key with no entry).
    private static func decide(tat: Int128, now: Int128, limit: RateLimit) -> RateLimitDecision {
        let interval = limit.emissionInterval.attoseconds
        let tolerance = limit.tolerance.attoseconds
        let ahead = max(tat, now) - now  // How far the key runs ahead of the clock.
        guard ahead <= tolerance else {
            return RateLimitDecision(
                isAllowed: false,
                remaining: 0,
                retryAfter: Duration(attoseconds: ahead - tolerance),
                resetAfter: Duration(attoseconds: ahead)
            )
        }
        let aheadAfter = ahead + interval
        // Requests at `now` still admissible: each needs the key at most `tolerance` ahead.
        let (used, partial) = aheadAfter.quotientAndRemainder(dividingBy: interval)
        let remaining = Int128(limit.burst) - (partial == 0 ? used : used + 1)
        return RateLimitDecision(
            isAllowed: true,
            remaining: Int(max(0, remaining)),
            retryAfter: .zero,
            resetAfter: Duration(attoseconds: aheadAfter)
        )
    }

    // MARK: Heap of entries by TAT

    /// Drops every entry whose TAT is at or before `now`: they decide like keys never seen.
    private mutating func removeExpired(at now: Int128) {
        while let root = heap.first, root.tat <= now {
            let slot = root.slot
            slots[entries[slot].key] = nil
            entries[slot].key = ""
            freeSlots.append(slot)
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                entries[last.slot].heapIndex = 0
                siftDown(from: 0)
            }
        }
        if entries.count >= Self.compactionThreshold, heap.count * 4 <= entries.count {
            compact()
        }
    }

    /// The fewest slots worth compacting.
    private static let compactionThreshold = 1024

    /// Rebuilds the storage around the live entries, giving a flood's memory back once three
    /// quarters of the slots are free. It costs O(live entries), fewer than a third of the removals
    /// since the storage last grew or was compacted, so it is amortised O(1) per removal.
    private mutating func compact() {
        var newSlots = [String: Int](minimumCapacity: heap.count)
        var newEntries: [Entry] = []
        var newHeap: [Node] = []
        newEntries.reserveCapacity(heap.count)
        newHeap.reserveCapacity(heap.count)
        for (index, node) in heap.enumerated() {
            let entry = entries[node.slot]
            let slot = newEntries.count
            newSlots[entry.key] = slot
            newEntries.append(Entry(key: entry.key, tat: entry.tat, heapIndex: index))
            newHeap.append(Node(tat: node.tat, slot: slot))
        }
        slots = newSlots
        entries = newEntries
        heap = newHeap
        freeSlots = []
    }

    private mutating func insert(_ key: String, tat: Int128) {
        let index = heap.count
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            entries[slot] = Entry(key: key, tat: tat, heapIndex: index)
        } else {
            slot = entries.count
            entries.append(Entry(key: key, tat: tat, heapIndex: index))
        }
        slots[key] = slot
        heap.append(Node(tat: tat, slot: slot))
        siftUp(from: index)
    }

    private mutating func siftUp(from start: Int) {
        var index = start
        let node = heap[index]
        while index > 0 {
            let parent = (index - 1) / 2
            guard node.tat < heap[parent].tat else { break }
            move(heap[parent], to: index)
            index = parent
        }
        move(node, to: index)
    }

    private mutating func siftDown(from start: Int) {
        var index = start
        let node = heap[index]
        let count = heap.count
        while true {
            let left = 2 * index + 1
            guard left < count else { break }
            let right = left + 1
            let child = right < count && heap[right].tat < heap[left].tat ? right : left
            guard heap[child].tat < node.tat else { break }
            move(heap[child], to: index)
            index = child
        }
        move(node, to: index)
    }

    /// Places `node` at `index` and tells its entry where it is.
    private mutating func move(_ node: Node, to index: Int) {
        heap[index] = node
        entries[node.slot].heapIndex = index
    }
}
