#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Counts by label, for events that any thread may record (refusals, failures before a model
/// version is known): a few shards, each behind a lock of its own, picked by the recording
/// thread, so event loops counting at once do not contend on one lock.
///
/// Labels must come from a bounded set (codes, reasons, policy names); the table keeps every
/// label it has seen.
public final class CounterTable: Sendable {
    /// One shard: a class, since a `Mutex` cannot be copied into an array.
    private final class Shard: Sendable {
        let counts = Mutex<[String: UInt64]>([:])
    }

    private let shards: [Shard]

    /// Creates a table with `shardCount` shards (rounded up to a power of two). Default 8.
    public init(shardCount: Int = 8) {
        let count = max(1, shardCount).nextPowerOfTwo
        shards = (0..<count).map { _ in Shard() }
    }

    /// Adds `amount` to the count of `label`.
    public func increment(_ label: String, by amount: UInt64 = 1) {
        let shard = shards[Self.threadHash & (shards.count - 1)]
        shard.counts.withLock { $0[label, default: 0] &+= amount }
    }

    /// Every label's count, summed over the shards.
    public var counts: [String: UInt64] {
        var total: [String: UInt64] = [:]
        for shard in shards {
            shard.counts.withLock { counts in
                for (label, count) in counts { total[label, default: 0] &+= count }
            }
        }
        return total
    }

    /// A hash of the calling thread, stable while it lives.
    private static var threadHash: Int {
        #if canImport(Glibc)
        // pthread_t is the thread's control block address: mix it so neighbours spread.
        let id = UInt64(UInt(bitPattern: Int(pthread_self())))
        return Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 32)
        #else
        return 0
        #endif
    }
}

extension Int {
    /// The smallest power of two at or above this positive value.
    fileprivate var nextPowerOfTwo: Int {
        self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
