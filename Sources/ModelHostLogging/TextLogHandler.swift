import Logging

/// A log handler that writes each log call as one line of text for people:
/// `<time> <level> <label>: <key=value ...> <message>`.
///
/// The layout of swift-log's `StreamLogHandler` without its `[source]`, with the time in RFC 3339
/// UTC to the millisecond and the metadata (the handler's, the provider's, the call's; a later one
/// wins) in the byte order of their names, each secret-named value redacted at every depth (`SecretRedaction`). The
/// whole line goes to its `LogOutput` in one write.
public struct TextLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// Metadata written on every line of this handler.
    public var metadata: Logger.Metadata = [:]
    /// The least severe level this handler writes.
    public var logLevel: Logger.Level = .info
    /// Metadata computed for each line, between the handler's and the call's.
    public var metadataProvider: Logger.MetadataProvider?

    private let output: LogOutput
    private let now: @Sendable () -> LogTimestamp

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
    }

    /// One metadata value of this handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` as one line.
    public func log(event: LogEvent) {
        let metadata = EffectiveMetadata.merge(handler: metadata, provider: metadataProvider, call: event.metadata, error: event.error)
        var line = now().rfc3339
        line.reserveCapacity(128 + 32 * metadata.count)
        line += " "
        line += event.level.rawValue
        if !label.isEmpty {
            line += " "
            line += label
        }
        line += ":"
        let redacted = SecretRedaction.redact(metadata)
        MetadataOrder.forEach(in: redacted) { key, value in
            line += " "
            line += key
            line += "="
            line += value.description
        }
        line += " "
        line += event.message.description
        line += "\n"
        output.write(line: line)
    }
}
