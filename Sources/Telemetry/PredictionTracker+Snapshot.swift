extension PredictionTracker {
    /// A tracker's state at one moment: what the metrics of a version's predictions are made of.
    public struct Snapshot: Sendable, Hashable {
        /// Every tracked output, in the manifest's order.
        public var outputs: [OutputSnapshot]
        /// Whether any output is drifting.
        public var isDrifting: Bool
        /// The PSI at or above which an output is drifting.
        public var psiThreshold: Double
        /// The values the recent window of each output holds when full.
        public var windowSize: Int

        /// Creates a snapshot.
        public init(outputs: [OutputSnapshot], isDrifting: Bool, psiThreshold: Double, windowSize: Int) {
            self.outputs = outputs
            self.isDrifting = isDrifting
            self.psiThreshold = psiThreshold
            self.windowSize = windowSize
        }

        /// The output with the given name.
        public func output(named name: String) -> OutputSnapshot? {
            outputs.first { $0.name == name }
        }
    }

    /// One tracked output's distributions and PSI.
    public struct OutputSnapshot: Sendable, Hashable {
        /// The output's name.
        public var name: String
        /// Whether it is binned by class (else over numeric bounds).
        public var isCategorical: Bool
        /// A label per bin: class names then `other`, or upper bounds as Prometheus `le` values
        /// then `+Inf` (``ModelManifest/TrackedOutput/binLabels``).
        public var binLabels: [String]
        /// The recent window's values per bin.
        public var windowCounts: [UInt64]
        /// Every value since the tracker started, per bin.
        public var totalCounts: [UInt64]
        /// For a numeric output, every value since the tracker started over the manifest's bounds,
        /// with their sum (for a Prometheus histogram); `nil` for a categorical one.
        public var numeric: Histogram?
        /// The reference fractions per bin: the manifest's baseline, or the first full window, or
        /// `nil` while neither is there yet.
        public var reference: [Double]?
        /// Where ``reference`` comes from.
        public var referenceSource: ReferenceSource
        /// The window's PSI against the reference; `nil` until the window holds the manifest's
        /// `minimumCount` values and a reference exists.
        public var psi: Double?
        /// Whether ``psi`` is at or above the threshold.
        public var isDrifting: Bool

        /// Creates an output's snapshot.
        public init(
            name: String, isCategorical: Bool, binLabels: [String], windowCounts: [UInt64], totalCounts: [UInt64],
            numeric: Histogram?, reference: [Double]?, referenceSource: ReferenceSource, psi: Double?, isDrifting: Bool
        ) {
            self.name = name
            self.isCategorical = isCategorical
            self.binLabels = binLabels
            self.windowCounts = windowCounts
            self.totalCounts = totalCounts
            self.numeric = numeric
            self.reference = reference
            self.referenceSource = referenceSource
            self.psi = psi
            self.isDrifting = isDrifting
        }

        /// The values the recent window holds.
        public var windowCount: UInt64 { windowCounts.reduce(0, +) }
    }

    /// Where an output's reference distribution comes from.
    public enum ReferenceSource: String, Sendable, Hashable, CaseIterable {
        /// The manifest's `baseline`.
        case baseline
        /// The first full window after the tracker started.
        case firstWindow = "first_window"
        /// None yet: the window has not been full once, and the manifest has no baseline.
        case pending
    }

    /// A change of a version's drifting state.
    public enum DriftChange: Sendable, Equatable {
        /// The version started drifting: `output`'s PSI reached the threshold (the highest PSI,
        /// when several outputs did at once).
        case started(output: String, psi: Double)
        /// The version stopped drifting: no output's PSI is at the threshold any more; `output` is
        /// the one its ``started(output:psi:)`` named, with its PSI now.
        case cleared(output: String, psi: Double)
    }
}
