/// Counts of observed values in fixed buckets, with their sum: a Prometheus histogram's state.
///
/// A value, small and copied under its owner's lock: recording is a short search over the bounds
/// and two additions. The owner decides the locking; nothing here is shared.
public struct Histogram: Sendable, Hashable {
    /// The buckets' inclusive upper bounds, ascending; a last, unbounded bucket (`+Inf`) follows.
    public let upperBounds: [Double]
    /// Observations per bucket, not cumulative: `counts[i]` holds the values in
    /// `(upperBounds[i-1], upperBounds[i]]`, and the last element those above every bound.
    public private(set) var counts: [UInt64]
    /// The sum of every observed value.
    public private(set) var sum: Double = 0
    /// Observations in all.
    public private(set) var count: UInt64 = 0

    /// Creates an empty histogram over `upperBounds`, which must be ascending.
    public init(upperBounds: [Double]) {
        precondition(zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 }, "histogram bounds must ascend")
        self.upperBounds = upperBounds
        self.counts = Array(repeating: 0, count: upperBounds.count + 1)
    }

    /// Counts `value` in its bucket.
    public mutating func record(_ value: Double) {
        counts[bucket(of: value)] += 1
        sum += value
        count += 1
    }

    /// Counts `duration`, in seconds.
    public mutating func record(_ duration: Duration) {
        record(duration.seconds)
    }

    /// The index of the bucket that holds `value`.
    public func bucket(of value: Double) -> Int {
        // Binary search for the first bound at or above the value.
        var low = 0
        var high = upperBounds.count
        while low < high {
            let middle = (low + high) / 2
            if value <= upperBounds[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The cumulative counts Prometheus exposes, one per bound and a last one for `+Inf`.
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return counts.map { running += $0; return running }
    }

    /// An estimate of the `q`-quantile (0...1), interpolated linearly within its bucket as
    /// Prometheus' `histogram_quantile` does; `nil` when nothing was observed. A quantile in the
    /// last bucket is reported as the highest bound.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = q * Double(count)
        var below: UInt64 = 0
        for (index, bucketCount) in counts.enumerated() {
            if Double(below + bucketCount) >= rank, bucketCount > 0 {
                guard index < upperBounds.count else { return upperBounds.last }
                let lower = index == 0 ? 0 : upperBounds[index - 1]
                let upper = upperBounds[index]
                let fraction = (rank - Double(below)) / Double(bucketCount)
                return lower + (upper - lower) * max(0, min(1, fraction))
            }
            below += bucketCount
        }
        return upperBounds.last
    }

    /// Adds `other`'s observations to these; both must have the same bounds.
    public mutating func merge(_ other: Histogram) {
        precondition(other.upperBounds == upperBounds, "only histograms with the same bounds merge")
        for index in counts.indices { counts[index] += other.counts[index] }
        sum += other.sum
        count += other.count
    }
}

extension Histogram {
    /// Bounds for latencies in seconds, from 100 µs to 10 s.
    public static let latencyBounds: [Double] = [
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]

    /// Bounds for batch sizes in rows: powers of two up to 256.
    public static let batchSizeBounds: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
