import ModelHostCore

/// What values an input accepts, beyond its datatype and shape. Each rule is optional.
///
/// Rules for `BYTES` inputs: ``minLength``, ``maxLength``, ``pattern``, ``overLength``,
/// ``requiresUTF8``, ``allowsNUL``. Rules for numeric inputs: ``minimum``, ``maximum``,
/// ``allowsNonFinite``. A rule for the other kind of datatype is a manifest error.
public struct InputConstraints: Sendable, Hashable, Decodable {
    /// What happens to a `BYTES` element longer than ``maxLength``.
    public enum OverLength: String, Sendable, Hashable, Decodable {
        /// The request is refused (default).
        case reject
        /// The element is cut at the last UTF-8 character boundary within the limit.
        case truncate
    }

    /// The fewest bytes a `BYTES` element may have. Default: no minimum.
    public var minLength: Int?
    /// The most bytes a `BYTES` element may have. Default: no maximum.
    public var maxLength: Int?
    /// A regular expression every `BYTES` element must match in full. Default: none.
    public var pattern: String?
    /// What to do with an element over ``maxLength``. Default ``OverLength/reject``.
    public var overLength: OverLength
    /// Whether `BYTES` elements must be valid UTF-8. Default `true`.
    public var requiresUTF8: Bool
    /// Whether `BYTES` elements may contain NUL bytes. Default `false`.
    public var allowsNUL: Bool
    /// The smallest value a numeric element may have. Default: the datatype's range.
    public var minimum: Double?
    /// The largest value a numeric element may have. Default: the datatype's range.
    public var maximum: Double?
    /// Whether floating-point elements may be NaN or infinite. Default `false`.
    public var allowsNonFinite: Bool

    /// Creates constraints; every rule defaults to its documented default.
    public init(
        minLength: Int? = nil, maxLength: Int? = nil, pattern: String? = nil, overLength: OverLength = .reject,
        requiresUTF8: Bool = true, allowsNUL: Bool = false,
        minimum: Double? = nil, maximum: Double? = nil, allowsNonFinite: Bool = false
    ) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.pattern = pattern
        self.overLength = overLength
        self.requiresUTF8 = requiresUTF8
        self.allowsNUL = allowsNUL
        self.minimum = minimum
        self.maximum = maximum
        self.allowsNonFinite = allowsNonFinite
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case minLength, maxLength, pattern, overLength, requireUTF8, allowNUL, minimum, maximum, allowNonFinite
    }

    /// The keys that were present, to check they suit the datatype.
    private var presentKeys: Set<String> = []

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        presentKeys = Set(container.allKeys.map(\.stringValue))
        minLength = try container.decodeIfPresent(Int.self, forKey: .minLength)
        maxLength = try container.decodeIfPresent(Int.self, forKey: .maxLength)
        pattern = try container.decodeIfPresent(String.self, forKey: .pattern)
        overLength = try container.decode(.overLength, default: .reject)
        requiresUTF8 = try container.decode(.requireUTF8, default: true)
        allowsNUL = try container.decode(.allowNUL, default: false)
        minimum = try container.decodeIfPresent(Double.self, forKey: .minimum)
        maximum = try container.decodeIfPresent(Double.self, forKey: .maximum)
        allowsNonFinite = try container.decode(.allowNonFinite, default: false)

        if let minLength, minLength < 0 { throw container.invalid(.minLength, "must be >= 0") }
        if let maxLength, maxLength < 1 { throw container.invalid(.maxLength, "must be >= 1") }
        if let minLength, let maxLength, minLength > maxLength {
            throw container.invalid(.minLength, "must be <= maxLength (\(maxLength))")
        }
        if overLength == .truncate, maxLength == nil {
            throw container.invalid(.overLength, "\"truncate\" needs maxLength")
        }
        if let minimum, let maximum, minimum > maximum {
            throw container.invalid(.minimum, "must be <= maximum (\(maximum))")
        }
        if let pattern {
            do {
                _ = try Regex(pattern)
            } catch {
                throw container.invalid(.pattern, "is not a valid regular expression: \(error)")
            }
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.minLength == rhs.minLength && lhs.maxLength == rhs.maxLength && lhs.pattern == rhs.pattern
            && lhs.overLength == rhs.overLength && lhs.requiresUTF8 == rhs.requiresUTF8 && lhs.allowsNUL == rhs.allowsNUL
            && lhs.minimum == rhs.minimum && lhs.maximum == rhs.maximum && lhs.allowsNonFinite == rhs.allowsNonFinite
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(minLength)
        hasher.combine(maxLength)
        hasher.combine(pattern)
        hasher.combine(minimum)
        hasher.combine(maximum)
    }

    /// Why these rules cannot apply to `datatype`, or `nil` when they can.
    func problem(for datatype: Datatype) -> String? {
        let bytesKeys: Set<String> = ["minLength", "maxLength", "pattern", "overLength", "requireUTF8", "allowNUL"]
        let numericKeys: Set<String> = ["minimum", "maximum", "allowNonFinite"]
        let misplaced: Set<String>
        switch datatype {
        case .bytes: misplaced = presentKeys.intersection(numericKeys)
        case .bool: misplaced = presentKeys
        case .fp32, .fp64: misplaced = presentKeys.intersection(bytesKeys)
        default: misplaced = presentKeys.intersection(bytesKeys).union(presentKeys.intersection(["allowNonFinite"]))
        }
        guard let key = misplaced.sorted().first else { return nil }
        return "\"\(key)\" does not apply to \(datatype.rawValue) inputs"
    }
}
