import Logging

/// A log handler that writes each entry as one line of JSON: `time` (RFC 3339, UTC,
/// milliseconds), `level`, `logger` (the label), `message`, then every metadata field as a
/// top-level key — the handler's, the provider's, then the entry's, later ones winning.
///
/// Numbers given as `.stringConvertible` (integers, finite floating-point values) stay JSON
/// numbers and Booleans stay Booleans; everything else is a string. A metadata key that would
/// shadow one of the four fixed fields is written with a `meta_` prefix. The value of every field
/// whose name looks like a secret (``SecretRedaction``) is replaced, at every depth.
public struct JSONLogHandler: LogHandler {
    /// The logger's label, written as `logger`.
    public let label: String
    /// Where lines go.
    public let output: LogOutput
    /// The least severe level written.
    public var logLevel: Logger.Level
    /// Metadata on every entry of this handler.
    public var metadata: Logger.Metadata = [:]
    /// Metadata added to every entry when it is logged.
    public var metadataProvider: Logger.MetadataProvider?

    private static let fixedKeys: Set<String> = ["time", "level", "logger", "message"]

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
        output.write(Self.line(time: LogTimestamp.now(), level: level, label: label, message: message.description, fields: fields))
    }

    /// One entry as its line of JSON, newline included.
    static func line(time: String, level: Logger.Level, label: String, message: String, fields: Logger.Metadata) -> String {
        var text = ""
        text.reserveCapacity(256 + message.utf8.count)
        text += "{\"time\":\""
        text += time
        text += "\",\"level\":\""
        text += level.rawValue
        text += "\",\"logger\":"
        JSONText.appendString(label, to: &text)
        text += ",\"message\":"
        JSONText.appendString(message, to: &text)
        // Sorted, so that the same fields always come in the same order.
        for key in fields.keys.sorted() {
            text += ","
            JSONText.appendString(fixedKeys.contains(key) ? "meta_" + key : key, to: &text)
            text += ":"
            if SecretRedaction.isSecret(key) {
                JSONText.appendString(SecretRedaction.placeholder, to: &text)
            } else {
                JSONText.append(fields[key]!, to: &text)
            }
        }
        text += "}\n"
        return text
    }
}
