import Telemetry

/// Writes the Prometheus text exposition format (version 0.0.4): each metric family's `# HELP`
/// and `# TYPE` lines, then its samples, every label value escaped.
///
/// A family's samples must be written together, after its header: call ``family(_:_:help:)``,
/// then ``sample(_:_:_:)`` or ``histogram(_:_:_:)`` for each labelled series.
struct PrometheusText {
    /// A metric family's type.
    enum Kind: String {
        case counter, gauge, histogram
    }

    /// The text written so far.
    private(set) var text = ""

    init() {
        text.reserveCapacity(16 << 10)
    }

    /// Starts the family `name`.
    mutating func family(_ name: String, _ kind: Kind, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// Writes one sample of the current family.
    mutating func sample(_ name: String, labels: [(String, String)] = [], _ value: Double) {
        text += name
        writeLabels(labels)
        text += " "
        text += Self.format(value)
        text += "\n"
    }

    /// Writes one histogram of the current family: its cumulative buckets, sum and count.
    mutating func histogram(_ name: String, labels: [(String, String)], _ histogram: Histogram) {
        let cumulative = histogram.cumulativeCounts
        for (index, count) in cumulative.enumerated() {
            let bound = index < histogram.upperBounds.count ? Self.format(histogram.upperBounds[index]) : "+Inf"
            sample(name + "_bucket", labels: labels + [("le", bound)], Double(count))
        }
        sample(name + "_sum", labels: labels, histogram.sum)
        sample(name + "_count", labels: labels, Double(histogram.count))
    }

    private mutating func writeLabels(_ labels: [(String, String)]) {
        guard !labels.isEmpty else { return }
        text += "{"
        for (index, (name, value)) in labels.enumerated() {
            if index > 0 { text += "," }
            text += name
            text += "=\""
            text += Self.escapeLabelValue(value)
            text += "\""
        }
        text += "}"
    }

    /// A sample value as Prometheus reads it: integers without a fraction, `+Inf`, `-Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// A label value with backslash, double quote and line feed escaped.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Help text with backslash and line feed escaped.
    static func escapeHelp(_ help: String) -> String {
        help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
