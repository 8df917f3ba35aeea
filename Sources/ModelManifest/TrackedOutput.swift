import ModelHostCore

/// One output whose predictions the host tracks for drift: an entry of the manifest's
/// `tracking.outputs`, and how its values fall into bins.
public struct TrackedOutput: Sendable, Hashable {
    /// How an output's values are binned.
    public enum Kind: Sendable, Hashable {
        /// Each value is a class name (a `BYTES` element, or `"false"`/`"true"` for `BOOL`) and
        /// counts in its class's bin; a value that is none of them counts in a last bin, `other`.
        case categorical(classes: [String])
        /// Each value is a number and counts in the first bin whose upper bound holds it:
        /// `(-inf, b0]`, `(b0, b1]`, …, `(b_last, +inf)`, so `bounds.count + 1` bins.
        case numeric(bounds: [Double])
    }

    /// The output's name, as the manifest declares it.
    public var name: String
    /// How its values are binned.
    public var kind: Kind
    /// The expected share of values per bin, from data the model was validated on: one fraction per
    /// bin (for a categorical output the `other` bin may be left out, meaning 0), summing to 1.
    /// `nil` makes the first full window after activation the reference.
    public var baseline: [Double]?

    /// The classes a `BOOL` output has when the manifest names none.
    public static let booleanClasses = ["false", "true"]
    /// The label of a categorical output's last bin, which counts values outside its classes.
    public static let otherLabel = "other"
    /// The most classes a categorical output may have.
    public static let maximumClasses = 256
    /// The most bounds a numeric output may have.
    public static let maximumBounds = 64
    /// How far from 1 the sum of a baseline may be.
    public static let baselineSumTolerance = 0.01

    /// Creates a tracked output, unchecked: the manifest's parser is what enforces the rules.
    ///
    /// - Parameters:
    ///   - name: The output's name.
    ///   - kind: How its values are binned.
    ///   - baseline: The expected fraction per bin, or `nil` for the first full window.
    public init(name: String, kind: Kind, baseline: [Double]? = nil) {
        self.name = name
        self.kind = kind
        self.baseline = baseline
    }

    /// Whether the output is categorical.
    public var isCategorical: Bool {
        if case .categorical = kind { true } else { false }
    }

    /// The number of bins: the classes and `other`, or one more than the bounds.
    public var binCount: Int {
        switch kind {
        case .categorical(let classes): classes.count + 1
        case .numeric(let bounds): bounds.count + 1
        }
    }

    /// A label per bin: the class names then `other`; or each bin's upper bound as a Prometheus
    /// `le` label value (`"0.5"`, `"10"`), the last `"+Inf"`.
    public var binLabels: [String] {
        switch kind {
        case .categorical(let classes): classes + [Self.otherLabel]
        case .numeric(let bounds): bounds.map(Self.prometheusLabel) + ["+Inf"]
        }
    }

    /// The baseline as one fraction per bin (a categorical baseline without `other` gets 0 for
    /// it), or `nil` when there is no baseline or it has the wrong number of fractions.
    public var baselineFractions: [Double]? {
        guard let baseline else { return nil }
        if baseline.count == binCount { return baseline }
        if isCategorical, baseline.count == binCount - 1 { return baseline + [0] }
        return nil
    }

    /// `value` as Prometheus writes a bucket bound: whole numbers without a fraction (`"1"`),
    /// others in their shortest exact form (`"0.25"`, `"1e-05"`).
    static func prometheusLabel(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case name, kind, classes, bounds, baseline
    }

    private enum KindName: String, CaseIterable {
        case categorical, numeric
    }

    /// Decodes an entry of `tracking.outputs`.
    ///
    /// - Parameters:
    ///   - declaredOutputs: The manifest's outputs, which the entry must name one of.
    ///   - tracked: The names of the entries before this one, which it must not repeat.
    /// - Throws: `DecodingError` naming the path of the first impossible value.
    init(from decoder: any Decoder, declaredOutputs: [TensorSpec], tracked: [String]) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        self.name = name
        guard let spec = declaredOutputs.first(where: { $0.name == name }) else {
            let names = declaredOutputs.map { "\"\($0.name)\"" }.joined(separator: ", ")
            throw container.invalid(.name, "\"\(name)\" is not a declared output (declared: \(names))")
        }
        guard !tracked.contains(name) else {
            throw container.invalid(.name, "\"\(name)\" is tracked twice")
        }
        let kindText = try container.decode(String.self, forKey: .kind)
        guard let kindName = KindName(rawValue: kindText) else {
            let kinds = KindName.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw container.invalid(.kind, "must be one of \(kinds), not \"\(kindText)\"")
        }
        switch kindName {
        case .categorical:
            guard spec.datatype == .bytes || spec.datatype == .bool else {
                throw container.invalid(.kind, "categorical needs a BYTES or BOOL output; \"\(name)\" is \(spec.datatype.rawValue)")
            }
            guard !container.contains(.bounds) else {
                throw container.invalid(.bounds, "applies to numeric outputs only")
            }
            kind = .categorical(classes: try Self.decodeClasses(container, datatype: spec.datatype))
        case .numeric:
            guard spec.datatype.isNumeric else {
                throw container.invalid(.kind, "numeric needs a numeric output (INT*, UINT*, FP32, FP64); \"\(name)\" is \(spec.datatype.rawValue)")
            }
            guard !container.contains(.classes) else {
                throw container.invalid(.classes, "applies to categorical outputs only")
            }
            kind = .numeric(bounds: try Self.decodeBounds(container))
        }
        baseline = try container.decodeIfPresent([Double].self, forKey: .baseline)
        if let baseline, let problem = baselineProblem(baseline) {
            throw container.invalid(.baseline, problem)
        }
    }

    private static func decodeClasses(_ container: KeyedDecodingContainer<CodingKeys>, datatype: Datatype) throws -> [String] {
        guard let classes = try container.decodeIfPresent([String].self, forKey: .classes) else {
            guard datatype == .bool else {
                throw container.invalid(.classes, "is required for a categorical BYTES output")
            }
            return booleanClasses
        }
        guard !classes.isEmpty, classes.count <= maximumClasses else {
            throw container.invalid(.classes, "must list 1 to \(maximumClasses) classes")
        }
        var seen: Set<String> = []
        for name in classes {
            guard seen.insert(name).inserted else {
                throw container.invalid(.classes, "lists \"\(name)\" twice")
            }
            guard name != otherLabel else {
                throw container.invalid(.classes, "must not list \"\(otherLabel)\", the label of values outside the classes")
            }
            guard datatype != .bool || booleanClasses.contains(name) else {
                throw container.invalid(.classes, "\"\(name)\" is not a BOOL value (\"false\", \"true\")")
            }
        }
        return classes
    }

    private static func decodeBounds(_ container: KeyedDecodingContainer<CodingKeys>) throws -> [Double] {
        let bounds = try container.decode([Double].self, forKey: .bounds)
        guard !bounds.isEmpty, bounds.count <= maximumBounds else {
            throw container.invalid(.bounds, "must list 1 to \(maximumBounds) bounds")
        }
        guard bounds.allSatisfy(\.isFinite) else {
            throw container.invalid(.bounds, "must be finite numbers")
        }
        guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw container.invalid(.bounds, "must be strictly ascending")
        }
        return bounds
    }

    private func baselineProblem(_ baseline: [Double]) -> String? {
        switch kind {
        case .categorical(let classes) where baseline.count != classes.count && baseline.count != classes.count + 1:
            return "must have one fraction per class (\(classes.count)), or per class and \"\(Self.otherLabel)\" (\(classes.count + 1)); it has \(baseline.count)"
        case .numeric(let bounds) where baseline.count != bounds.count + 1:
            return "must have one fraction per bin (\(bounds.count + 1): one more than the bounds); it has \(baseline.count)"
        default:
            break
        }
        guard baseline.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            return "fractions must be >= 0"
        }
        let sum = baseline.reduce(0, +)
        guard abs(sum - 1) <= Self.baselineSumTolerance else {
            return "fractions must sum to 1 (within \(Self.baselineSumTolerance)); they sum to \(sum)"
        }
        return nil
    }
}
