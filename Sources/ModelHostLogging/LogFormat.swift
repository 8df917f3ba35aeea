/// How the server writes its log lines: one JSON object a line, or plain text for people.
///
/// A struct over a private enum, so that adding a format later breaks no caller's `switch`.
public struct LogFormat: Hashable, Sendable, CustomStringConvertible {
    private enum Kind: String, Hashable, Sendable, CaseIterable {
        case json
        case text
    }

    private let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// One JSON object a line (`JSONLogHandler`), for log collectors.
    public static let json = LogFormat(.json)

    /// `<time> <level> <label>: <k=v ...> <message>` (`TextLogHandler`), for a terminal.
    public static let text = LogFormat(.text)

    /// The format named `name` (`json` or `text`, lowercase as in `allNames`); `nil` for any other name.
    public init?(_ name: String) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.kind = kind
    }

    /// Every format's name, in the order a help text lists them.
    public static let allNames: [String] = Kind.allCases.map(\.rawValue)

    /// The format's name, as `init?(_:)` accepts it.
    public var description: String { kind.rawValue }
}
