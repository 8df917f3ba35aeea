import Logging

/// How the host logs: the format, the least severe level, and where lines go.
public struct LogConfiguration: Sendable {
    /// The format. Default ``LogFormat/text``.
    public var format: LogFormat = .text
    /// The least severe level written. Default `info`.
    public var level: Logger.Level = .info
    /// Where lines go. Default standard error.
    public var output: LogOutput = .standardError

    /// Creates a configuration with every field at its default.
    public init() {}

    /// A handler for the logger `label`, for `LoggingSystem.bootstrap`.
    public func makeHandler(label: String) -> any LogHandler {
        if format == .json {
            return JSONLogHandler(label: label, output: output, level: level)
        }
        return TextLogHandler(label: label, output: output, level: level)
    }
}
