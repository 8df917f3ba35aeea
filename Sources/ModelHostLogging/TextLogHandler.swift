import Logging

/// A log handler that writes each entry as one line of text:
/// `<time> <level> <logger>: <key=value ...> <message>`, with the metadata sorted by key and
/// the value of every field whose name looks like a secret (``SecretRedaction``) replaced.
public struct TextLogHandler: LogHandler {
    /// The logger's label.
    public let label: String
    /// Where lines go.
    public let output: LogOutput
    /// The least severe level written.
    public var logLevel: Logger.Level
    /// Metadata on every entry of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata added to every entry when it is logged.
    public var metadataProvider: Logger.MetadataProvider?

    /// Creates a handler for `label` writing to `output` from `level` up.
    public init(label: String, output: LogOutput = .standardError, level: Logger.Level = .info, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.output = output
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let (level, message) = (event.level, event.message)
        var fields = self.metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { fields.merge(provided) { $1 } }
        if let explicit = event.metadata, !explicit.isEmpty { fields.merge(explicit) { $1 } }
        if SecretRedaction.needsRedaction(fields) { fields = SecretRedaction.redact(fields) }
        var text = LogTimestamp.now() + " " + level.rawValue + " " + label + ":"
        for key in fields.keys.sorted() {
            text += " " + key + "=" + fields[key]!.description
        }
        text += " " + message.description + "\n"
        output.write(text)
    }
}
