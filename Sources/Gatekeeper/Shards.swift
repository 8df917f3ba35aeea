import Synchronization

/// A fixed number of values, each behind a `Mutex` of its own, one chosen for each key by the key's
/// hash: work on keys that land in different shards never takes the same lock.
///
/// The hash is Swift's `Hasher`, seeded per process, so a client cannot pick keys that all land in
/// one shard. The number of shards is a power of two, so choosing one is a mask, not a division.
struct Shards<Value: Sendable>: Sendable {
    /// One shard: a class, since a `Mutex` cannot be copied into an array.
    private final class Shard: Sendable {
        let state: Mutex<Value>

        init(_ value: sending Value) {
            state = Mutex(value)
        }
    }

    private let shards: [Shard]
    private let mask: Int

    /// Creates `count` shards.
    ///
    /// - Parameters:
    ///   - count: The number of shards; rounded down to a power of two, and at least 1.
    ///   - makeValue: Makes each shard's initial value.
    init(count: Int, makeValue: () -> Value) {
        let count = Self.powerOfTwo(atMost: count)
        shards = (0..<count).map { _ in Shard(makeValue()) }
        mask = count - 1
    }

    /// The number of shards.
    var count: Int { shards.count }

    /// The shard `key` belongs to.
    func index(for key: some Hashable) -> Int {
        key.hashValue & mask
    }

    /// Runs `body` on the value of shard `index`, holding that shard's lock.
    ///
    /// - Parameters:
    ///   - index: A shard, from ``index(for:)``.
    ///   - body: What to do with the value; it must not take this shard's lock again.
    /// - Returns: What `body` returns.
    func withLock<Result: Sendable>(_ index: Int, _ body: (inout Value) -> Result) -> Result {
        shards[index].state.withLock { value in body(&value) }
    }

    /// Sums what `body` says about every shard, taking their locks one at a time.
    func sum(_ body: (inout Value) -> Int) -> Int {
        var total = 0
        for index in shards.indices {
            total += shards[index].state.withLock { value in body(&value) }
        }
        return total
    }

    /// The largest power of two that is at most `count`, and at least 1.
    static func powerOfTwo(atMost count: Int) -> Int {
        guard count > 1 else { return 1 }
        return 1 << (Int.bitWidth - 1 - count.leadingZeroBitCount)
    }
}
