/// The time side of a ``TATStore``: the theoretical arrival time (TAT) of every occupied slot, a
/// min-heap of those slots by TAT, and the GCRA decision itself.
///
/// Slots are small integers the store maps its keys to; a freed slot is reused. Not generic, so it
/// runs at full speed even unspecialised (in debug builds, where tests run): only the store's map
/// from key to slot depends on the key type.
struct TATHeap: Sendable {
    /// A slot's state: its TAT and its position in ``heap``.
    private struct Entry: Sendable {
        var tat: Int128
        var heapIndex: Int
    }

    /// A heap node: the TAT (copied, so sifting reads only the heap) and the slot.
    private struct Node: Sendable {
        var tat: Int128
        var slot: Int
    }

    /// The entries, by slot.
    private var entries: [Entry] = []
    private var freeSlots: [Int] = []
    /// A binary min-heap of the occupied slots ordered by TAT; its root expires first.
    private var heap: [Node] = []

    /// Creates an empty heap.
    init() {}

    /// The number of occupied slots.
    var count: Int { heap.count }

    /// The number of slots, occupied or free: the store's slot-indexed storage has this size.
    var slotCount: Int { entries.count }

    /// The earliest TAT of any occupied slot: the root's, kept as a plain value so that the common
    /// question "has anything expired?" costs no array access.
    private(set) var earliest: Int128?

    /// The TAT of an occupied slot.
    func tat(at slot: Int) -> Int128 {
        entries[slot].tat
    }

    /// Occupies a slot with `tat`.
    ///
    /// - Returns: The slot: a freed one if any, else ``slotCount`` before the call.
    mutating func insert(tat: Int128) -> Int {
        let index = heap.count
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            entries[slot] = Entry(tat: tat, heapIndex: index)
        } else {
            slot = entries.count
            entries.append(Entry(tat: tat, heapIndex: index))
        }
        heap.append(Node(tat: tat, slot: slot))
        siftUp(from: index)
        return slot
    }

    /// Moves an occupied slot's TAT forward to `tat`, which is at least its current TAT.
    mutating func advance(_ slot: Int, to tat: Int128) {
        entries[slot].tat = tat
        let index = entries[slot].heapIndex
        heap[index].tat = tat
        siftDown(from: index)  // The TAT only grows.
    }

    /// Frees the slot with the earliest TAT if that TAT is at or before `now`.
    ///
    /// - Returns: The freed slot, or `nil` when no slot has expired.
    mutating func popExpired(at now: Int128) -> Int? {
        guard let earliest, earliest <= now else { return nil }
        let root = heap[0]
        freeSlots.append(root.slot)
        let last = heap.removeLast()
        if heap.isEmpty {
            self.earliest = nil
        } else {
            move(last, to: 0)
            siftDown(from: 0)
        }
        return root.slot
    }

    /// Whether three quarters of a large storage are free, so ``compact()`` gives memory back.
    var shouldCompact: Bool {
        entries.count >= Self.compactionThreshold && heap.count * 4 <= entries.count
    }

    /// The fewest slots worth compacting.
    private static var compactionThreshold: Int { 1024 }

    /// Renumbers the occupied slots `0..<count`, dropping the free ones, so a flood's memory goes
    /// back. It costs O(occupied slots), fewer than a third of the removals since the storage last
    /// grew or was compacted, so it is amortised O(1) per removal.
    ///
    /// - Returns: For each new slot, the slot it had before.
    mutating func compact() -> [Int] {
        var oldSlots: [Int] = []
        var newEntries: [Entry] = []
        var newHeap: [Node] = []
        oldSlots.reserveCapacity(heap.count)
        newEntries.reserveCapacity(heap.count)
        newHeap.reserveCapacity(heap.count)
        for (index, node) in heap.enumerated() {
            let slot = newEntries.count
            oldSlots.append(node.slot)
            newEntries.append(Entry(tat: node.tat, heapIndex: index))
            newHeap.append(Node(tat: node.tat, slot: slot))
        }
        entries = newEntries
        heap = newHeap
        freeSlots = []
        return oldSlots
    }

    // MARK: GCRA

    /// The GCRA decision for a key whose TAT is `tat` (or `now` for a key with no entry).
    static func decide(tat: Int128, now: Int128, limit: RateLimit) -> RateLimitDecision {
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

    // MARK: Heap

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
        if index == 0 { earliest = node.tat }
    }
}
