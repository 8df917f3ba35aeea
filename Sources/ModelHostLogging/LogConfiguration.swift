import Logging

/// How the server logs: the line format, the least severe level written, and where lines go.
///
/// `LoggingSystem.bootstrap { configuration.makeHandler(label: $0) }` puts it in force.
public struct LogConfiguration: Sendable {
    /// The line format. Default: `.text`.
    public var format: LogFormat = .text
    /// The least severe level written. Default: `.info`.
    public var level: Logger.Level = .info
    /// Where lines go. Default: standard error.
    public var output: LogOutput = .standardError
    /// Metadata computed for every line, such as a task's trace id. Default: none.
    public var metadataProvider: Logger.MetadataProvider? = nil

    /// The defaults: text at `.info` and above, to standard error.
    public init() {}

    /// A handler for the logger `label` in this configuration's format, level and output.
    public func makeHandler(label: String) -> any LogHandler {
        if format == .json {
            var handler = JSONLogHandler(label: label, output: output, metadataProvider: metadataProvider)
            handler.logLevel = level
            return handler
        } else {
            var handler = TextLogHandler(label: label, output: output, metadataProvider: metadataProvider)
            handler.logLevel = level
            return handler
        }
    }

    /// The request log in this configuration's format and output, or `nil` when its level is
    /// above `info`, the level request lines are written at.
    public func makeRequestLog(label: String = "modelhost.request") -> RequestLog? {
        guard level <= .info else { return nil }
        return RequestLog(label: label, format: format, output: output)
    }
}
