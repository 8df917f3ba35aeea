import ModelManifest

/// One tracked output's counts: the recent window as a ring of bin indices with a running count
/// per bin, the counts since the start, the reference and the last PSI.
///
/// A value owned by ``PredictionTracker`` and changed only under its lock.
struct OutputWindow: Sendable {
    /// The bin index of each value in the window, oldest at ``next`` once the ring is full.
    private(set) var ring: [UInt16] = []
    /// Where the next value goes once the ring is full (it replaces the oldest).
    private var next = 0
    /// Values per bin in the ring.
    private(set) var windowCounts: [UInt64]
    /// Values per bin since the start.
    private(set) var totalCounts: [UInt64]
    /// A numeric output's values since the start, over its bounds.
    private(set) var histogram: Histogram?
    /// Reference fractions per bin, once known.
    private(set) var reference: [Double]?
    /// Where ``reference`` comes from.
    private(set) var referenceSource: PredictionTracker.ReferenceSource
    /// The PSI at the last evaluation, if one could be computed.
    private(set) var psi: Double?
    /// Whether ``psi`` was at or above the threshold at the last evaluation.
    private(set) var isDrifting = false
    /// Values recorded since the last evaluation.
    private(set) var valuesSinceEvaluation = 0

    /// An empty window for `output`, its reference the baseline if the manifest gives one.
    init(output: TrackedOutput) {
        precondition(output.binCount <= Int(UInt16.max) + 1, "a tracked output has at most 65536 bins")
        windowCounts = Array(repeating: 0, count: output.binCount)
        totalCounts = windowCounts
        if case .numeric(let bounds) = output.kind {
            histogram = Histogram(upperBounds: bounds)
        }
        if let baseline = output.baselineFractions {
            let sum = baseline.reduce(0, +)
            reference = sum > 0 ? baseline.map { $0 / sum } : nil
        }
        referenceSource = reference == nil ? .pending : .baseline
    }

    /// The values the window holds.
    var count: Int { ring.count }

    /// Adds a batch of values, each replacing the oldest once the window holds `capacity`; the
    /// first time the window is full without a reference, it becomes the reference.
    mutating func record(_ batch: OutputBinner.Batch, capacity: Int) {
        for bin in batch.bins {
            let index = Int(bin)
            if ring.count < capacity {
                ring.append(bin)
            } else {
                windowCounts[Int(ring[next])] -= 1
                ring[next] = bin
                next = next + 1 == capacity ? 0 : next + 1
            }
            windowCounts[index] += 1
            totalCounts[index] += 1
            if reference == nil, ring.count == capacity {
                let total = Double(capacity)
                reference = windowCounts.map { Double($0) / total }
                referenceSource = .firstWindow
            }
        }
        if let values = batch.histogram {
            histogram?.merge(values)
        }
        valuesSinceEvaluation += batch.bins.count
    }

    /// Recomputes the PSI of the window against the reference, and with it whether the output
    /// is drifting; no PSI while the window holds fewer than `minimumCount` values or there is no
    /// reference.
    mutating func evaluate(minimumCount: Int, threshold: Double) {
        valuesSinceEvaluation = 0
        guard let reference, count >= minimumCount, count > 0 else {
            psi = nil
            isDrifting = false
            return
        }
        let value = PopulationStability.index(reference: reference, recent: windowCounts.map(Double.init))
        psi = value
        isDrifting = value >= threshold
    }
}
