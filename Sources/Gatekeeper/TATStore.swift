/// The GCRA state of many keys with times as attoseconds since an origin the owner chooses: a map
/// from key to slot, over a ``TATHeap`` of the slots by TAT.
///
/// This is the storage behind ``RateLimiterTable`` and the gatekeeper's rate-limit shards; its
/// behaviour (exact decisions, dropping only expired entries, failing closed when full) is the one
/// ``RateLimiterTable`` documents. Only the map depends on the key type, which every caller in this
/// module names concretely; times are plain integers, so nothing here depends on the clock type,
/// and the heap, the GCRA arithmetic and the expiry run non-generic code.
///
/// It is a value: its owner keeps it behind one lock (or in one actor) and calls it from there.
struct TATStore<Key: Hashable & Sendable>: Sendable {
    private let maxEntries: Int
    /// Key to slot in ``heap``.
    private var slots: [Key: Int] = [:]
    /// The key of each slot of ``heap``, `nil` for a free slot: ``TATHeap/slotCount`` elements.
    private var keys: [Key?] = []
    private var heap = TATHeap()

    /// Creates an empty store.
    ///
    /// - Parameter maxEntries: The most entries it holds; values below 1 are treated as 1.
    init(maxEntries: Int) {
        self.maxEntries = max(1, maxEntries)
    }

    /// The number of entries held, including any that expired since the last record.
    var count: Int { heap.count }

    /// Whether the store holds an entry for `key` (live or expired since the last record).
    func contains(_ key: Key) -> Bool {
        heap.count > 0 && slots[key] != nil
    }

    /// The GCRA decision for a request from `key` at `now`, changing nothing.
    func check(_ key: Key, limit: RateLimit, at now: Int128) -> RateLimitDecision {
        if let slot = slots[key] {
            return TATHeap.decide(tat: heap.tat(at: slot), now: now, limit: limit)
        }
        if heap.count >= maxEntries, let earliest = heap.earliest, earliest > now {
            // Full of live entries: refuse the new key until the earliest entry expires.
            let wait = Duration(attoseconds: earliest - now)
            return RateLimitDecision(isAllowed: false, remaining: 0, retryAfter: wait, resetAfter: wait)
        }
        return TATHeap.decide(tat: now, now: now, limit: limit)
    }

    /// Records one admitted request from `key` at `now`, first dropping every expired entry.
    mutating func record(_ key: Key, limit: RateLimit, at now: Int128) {
        removeExpired(at: now)
        let interval = limit.emissionInterval.attoseconds
        if let slot = slots[key] {
            heap.advance(slot, to: max(heap.tat(at: slot), now) + interval)
        } else {
            let slot = heap.insert(tat: now + interval)
            if slot == keys.count {
                keys.append(key)
            } else {
                keys[slot] = key
            }
            slots[key] = slot
        }
    }

    /// Drops every entry whose TAT is at or before `now`: they decide like keys never seen, so this
    /// changes no decision. ``record(_:limit:at:)`` does it first; call it to count only the live
    /// entries, or to give memory back sooner.
    mutating func removeExpired(at now: Int128) {
        var isShrunk = false
        while let slot = heap.popExpired(at: now) {
            if let key = keys[slot] { slots[key] = nil }
            keys[slot] = nil
            isShrunk = true
        }
        // Only a removal can bring the storage to three quarters free.
        if isShrunk, heap.shouldCompact {
            // Rebuild the key side around the renumbered slots, so its memory goes back too.
            let oldSlots = heap.compact()
            var newKeys: [Key?] = []
            var newSlots = [Key: Int](minimumCapacity: oldSlots.count)
            newKeys.reserveCapacity(oldSlots.count)
            for (slot, oldSlot) in oldSlots.enumerated() {
                let key = keys[oldSlot]
                // An occupied slot always has its key.
                if let key { newSlots[key] = slot }
                newKeys.append(key)
            }
            keys = newKeys
            slots = newSlots
        }
    }
}
