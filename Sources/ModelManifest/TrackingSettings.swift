import ModelHostCore

/// Which outputs of a model version the host watches for drift, from the manifest's `tracking`.
///
/// Per tracked output the host keeps the distribution of recent predictions (a window of
/// ``window`` tensor elements) and compares it with a reference distribution by population
/// stability index (PSI); at ``psiThreshold`` or above for any output, the version is drifting.
public struct TrackingSettings: Sendable, Hashable {
    /// The predictions (tensor elements) the recent window of each output holds. Default 1000;
    /// 10 to 1,000,000.
    public var window: Int = 1000
    /// The fewest predictions the window must hold before its PSI is computed and drift judged.
    /// Default 100; 1 to ``window``.
    public var minimumCount: Int = 100
    /// The PSI at or above which an output, and with it the version, is drifting. Default 0.2;
    /// greater than 0.
    public var psiThreshold: Double = 0.2
    /// The tracked outputs, each a declared output of the manifest, at most once. At least one.
    public var outputs: [TrackedOutput]

    /// The range of ``window``.
    public static let windowRange = 10...1_000_000

    /// Creates settings, unchecked: the manifest's parser is what enforces the documented ranges.
    ///
    /// - Parameters:
    ///   - window: Predictions in the recent window. Default 1000.
    ///   - minimumCount: Predictions the window must hold before drift is judged. Default 100.
    ///   - psiThreshold: The PSI at which an output is drifting. Default 0.2.
    ///   - outputs: The tracked outputs.
    public init(window: Int = 1000, minimumCount: Int = 100, psiThreshold: Double = 0.2, outputs: [TrackedOutput]) {
        self.window = window
        self.minimumCount = minimumCount
        self.psiThreshold = psiThreshold
        self.outputs = outputs
    }

    /// The tracked output with the given name.
    public func output(named name: String) -> TrackedOutput? {
        outputs.first { $0.name == name }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case window, minimumCount, psiThreshold, outputs
    }

    /// Decodes the `tracking` section of a manifest whose outputs are `declaredOutputs`.
    ///
    /// - Throws: `DecodingError` naming the path of the first impossible value.
    init(from decoder: any Decoder, declaredOutputs: [TensorSpec]) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        window = try container.decode(.window, default: 1000, in: Self.windowRange)
        minimumCount = try container.decode(.minimumCount, default: 100)
        guard (1...window).contains(minimumCount) else {
            throw container.invalid(.minimumCount, "must be between 1 and window (\(window))")
        }
        psiThreshold = try container.decode(.psiThreshold, default: 0.2)
        guard psiThreshold > 0, psiThreshold.isFinite else {
            throw container.invalid(.psiThreshold, "must be a number greater than 0")
        }
        var list = try container.nestedUnkeyedContainer(forKey: .outputs)
        outputs = []
        while !list.isAtEnd {
            let output = try TrackedOutput(from: list.superDecoder(), declaredOutputs: declaredOutputs, tracked: outputs.map(\.name))
            outputs.append(output)
        }
        guard !outputs.isEmpty else {
            throw container.invalid(.outputs, "must list at least one output")
        }
    }
}
