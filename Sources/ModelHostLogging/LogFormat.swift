/// How log lines are written: one JSON object per line, or plain text.
public struct LogFormat: Hashable, Sendable, CustomStringConvertible {
    private enum Kind: String, CaseIterable {
        case json, text
    }

    private let kind: Kind

    private init(_ kind: Kind) {
        self.kind = kind
    }

    /// One JSON object per line: `time`, `level`, `logger`, `message`, then the metadata.
    public static let json = LogFormat(.json)
    /// `<time> <level> <logger>: <key=value ...> <message>`, one line each.
    public static let text = LogFormat(.text)

    /// The format named `name` (`json` or `text`, any case), or `nil`.
    public init?(_ name: String) {
        guard let kind = Kind(rawValue: name.lowercased()) else { return nil }
        self.kind = kind
    }

    /// Every format's name.
    public static let allNames = Kind.allCases.map(\.rawValue)

    public var description: String { kind.rawValue }
}
