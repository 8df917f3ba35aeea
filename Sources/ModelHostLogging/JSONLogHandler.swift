import Logging

/// A log handler that writes each log call as one line of JSON.
///
/// A line is `{"time":…,"level":…,"logger":…,"message":…, <metadata>}`: the time in RFC 3339 UTC
/// with milliseconds, swift-log's level name, the logger's label, the message, then the metadata
/// (the handler's, the provider's, the call's; a later one wins) as top-level members in the
/// byte order of their names; an error passed to the call adds `error.message` and `error.type`.
/// A metadata key equal to one of the four fixed names is written with a `meta_` prefix. Values
/// whose key looks secret (`SecretRedaction`) are replaced at every depth. Integers and finite
/// floating-point values given as `.stringConvertible` stay JSON numbers, Booleans stay Booleans.
///
/// The call's source module, file, function and line are not written: the label names the
/// component, and the rest is noise in a request log.
///
/// The whole line goes to its `LogOutput` in one write, so lines from concurrent calls never
/// interleave.
public struct JSONLogHandler: LogHandler {
    /// The logger's label, written as `logger`.
    public let label: String
    /// Metadata written on every line of this handler.
    public var metadata: Logger.Metadata = [:]
    /// The least severe level this handler writes.
    public var logLevel: Logger.Level = .info
    /// Metadata computed for each line, between the handler's and the call's.
    public var metadataProvider: Logger.MetadataProvider?

    private let output: LogOutput
    private let now: @Sendable () -> LogTimestamp
    /// `,"logger":"<label>","message":`, escaped once here rather than on every line.
    private let loggerMember: [UInt8]

    /// Creates a handler for the logger `label` that writes to `output`.
    ///
    /// - Parameters:
    ///   - label: The logger's label.
    ///   - output: Where lines go. Default: standard error.
    ///   - metadataProvider: Metadata computed for each line. Default: none.
    public init(label: String, output: LogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.init(label: label, output: output, metadataProvider: metadataProvider, now: LogTimestamp.now)
    }

    /// Creates a handler that takes its time from `now`, for tests.
    init(label: String, output: LogOutput, metadataProvider: Logger.MetadataProvider?, now: @escaping @Sendable () -> LogTimestamp) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
        self.now = now
        var member = JSONLine(capacity: label.utf8.count + 24)
        member.appendRaw("\",\"logger\":")
        member.appendString(label)
        member.appendRaw(",\"message\":")
        self.loggerMember = member.bytes
    }

    /// One metadata value of this handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one line.
    public func log(event: LogEvent) {
        let metadata = EffectiveMetadata.merge(handler: metadata, provider: metadataProvider, call: event.metadata, error: event.error)
        var line = JSONLine(capacity: 256 + 48 * metadata.count)
        line.appendRaw("{\"time\":\"")
        line.appendTimestamp(now())
        line.appendRaw("\",\"level\":\"")
        line.appendString(unquoted: event.level.rawValue)
        line.appendRaw(loggerMember)
        line.appendString(event.message.description)
        MetadataOrder.forEach(in: metadata) { key, value in
            line.appendByte(UInt8(ascii: ","))
            line.appendMember(key: Self.fixedNames.contains(key) ? Self.prefixedName(for: key, in: metadata) : key, value: value)
        }
        line.appendRaw("}\n")
        output.write(line: line.bytes)
    }

    /// The names every line starts with.
    private static let fixedNames: Set<String> = ["time", "level", "logger", "message"]

    /// A fixed name behind as many `meta_` prefixes as it takes to clash with no other key.
    static func prefixedName(for key: String, in metadata: Logger.Metadata) -> String {
        var name = "meta_" + key
        while metadata[name] != nil { name = "meta_" + name }
        return name
    }
}
