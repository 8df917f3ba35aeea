import ModelHostCore
import ModelManifest
import Synchronization

/// The distribution of one model version's recent predictions per tracked output, compared with a
/// reference by population stability index: whether the version is drifting.
///
/// Per output in ``TrackingSettings/outputs`` it keeps the last ``TrackingSettings/window`` values
/// (tensor elements) as bin indices in a ring, with a count per bin kept up to date as values enter
/// and leave, so recording costs O(1) per value. The reference is the manifest's baseline, or else
/// the first full window. The PSI of the window against the reference is recomputed every
/// ``evaluationInterval`` values of the output (and for every ``snapshot``), once the window holds
/// ``TrackingSettings/minimumCount`` values and a reference exists. An output is drifting while its
/// PSI is at or above ``TrackingSettings/psiThreshold``; the version while any output is.
///
/// Safe to call from any thread: one lock, held once per ``record(_:)`` for counter updates only
/// (values are read and binned before it is taken).
public final class PredictionTracker: Sendable {
    /// The settings, as given.
    public let settings: TrackingSettings
    /// How many values of an output are recorded between recomputations of its PSI:
    /// a twentieth of the window, at least 1.
    public let evaluationInterval: Int

    private let binners: [OutputBinner]
    private let names: [String]
    private let binLabels: [[String]]
    private let outputIndices: [String: Int]
    private let state: Mutex<State>

    /// Creates a tracker with empty windows.
    ///
    /// - Parameter settings: The settings as the manifest's parser checked them: at most 65,536
    ///   bins per output and ascending bounds.
    public init(settings: TrackingSettings) {
        self.settings = settings
        evaluationInterval = max(1, settings.window / 20)
        binners = settings.outputs.map(OutputBinner.init)
        names = settings.outputs.map(\.name)
        binLabels = settings.outputs.map(\.binLabels)
        var indices: [String: Int] = [:]
        for (index, output) in settings.outputs.enumerated() where indices[output.name] == nil {
            indices[output.name] = index
        }
        outputIndices = indices
        state = Mutex(State(outputs: settings.outputs.map(OutputWindow.init)))
    }

    /// Bins every element of each tracked output found by name in `outputs` (others ignored, a
    /// missing output ignored).
    ///
    /// Elements of a datatype the output's kind cannot bin (a number for a categorical output,
    /// a string for a numeric one) and non-finite numbers are skipped.
    ///
    /// - Parameter outputs: One inference call's outputs.
    /// - Returns: A change of the version's drifting state, if this call caused one (or a
    ///   ``snapshot`` since the previous call did), so the caller can log an alarm.
    @discardableResult
    public func record(_ outputs: [Tensor]) -> DriftChange? {
        var batches: [(index: Int, batch: OutputBinner.Batch)] = []
        for tensor in outputs {
            guard let index = outputIndices[tensor.name], let batch = binners[index].bin(tensor), !batch.bins.isEmpty else { continue }
            batches.append((index, batch))
        }
        guard !batches.isEmpty else { return nil }
        return state.withLock { state in
            for (index, batch) in batches {
                state.outputs[index].record(batch, capacity: settings.window)
                if state.outputs[index].valuesSinceEvaluation >= evaluationInterval {
                    state.outputs[index].evaluate(minimumCount: settings.minimumCount, threshold: settings.psiThreshold)
                }
            }
            return state.takeChange(names: names)
        }
    }

    /// The tracker's state now, with every output's PSI recomputed.
    ///
    /// A drifting state that the recomputation changes is reported by the next ``record(_:)``.
    public var snapshot: Snapshot {
        let outputs = state.withLock { state in
            state.outputs.indices.map { index in
                state.outputs[index].evaluate(minimumCount: settings.minimumCount, threshold: settings.psiThreshold)
                // Only the small per-bin arrays are copied out: the ring stays unshared, so the
                // next record does not copy it.
                let window = state.outputs[index]
                let output = settings.outputs[index]
                return OutputSnapshot(
                    name: output.name,
                    isCategorical: output.isCategorical,
                    binLabels: binLabels[index],
                    windowCounts: window.windowCounts,
                    totalCounts: window.totalCounts,
                    numeric: window.histogram,
                    reference: window.reference,
                    referenceSource: window.referenceSource,
                    psi: window.psi,
                    isDrifting: window.isDrifting
                )
            }
        }
        return Snapshot(
            outputs: outputs,
            isDrifting: outputs.contains(where: \.isDrifting),
            psiThreshold: settings.psiThreshold,
            windowSize: settings.window
        )
    }
}

extension PredictionTracker {
    /// Everything under the lock: the outputs' windows, and which drifting state was last reported.
    struct State: Sendable {
        var outputs: [OutputWindow]
        /// The output named in the last ``DriftChange/started(output:psi:)`` reported, until the
        /// matching ``DriftChange/cleared(output:psi:)``.
        var reportedDriftingOutput: Int?

        /// The change between the reported drifting state and the current one, now reported.
        mutating func takeChange(names: [String]) -> DriftChange? {
            let isDrifting = outputs.contains(where: \.isDrifting)
            switch (reportedDriftingOutput, isDrifting) {
            case (nil, true):
                let drifting = outputs.indices.filter { outputs[$0].isDrifting }
                let worst = drifting.max { (outputs[$0].psi ?? 0) < (outputs[$1].psi ?? 0) } ?? drifting[0]
                reportedDriftingOutput = worst
                return .started(output: names[worst], psi: outputs[worst].psi ?? 0)
            case (let reported?, false):
                reportedDriftingOutput = nil
                return .cleared(output: names[reported], psi: outputs[reported].psi ?? 0)
            default:
                return nil
            }
        }
    }
}
