import Foundation
import Logging
import Synchronization
import Testing

@testable import ModelHostLogging

/// Keeps every line a handler writes, for tests to read.
final class LineCollector: Sendable {
    private let storage = Mutex<[String]>([])

    var lines: [String] { storage.withLock { $0 } }

    var output: LogOutput {
        .custom { line in self.storage.withLock { $0.append(line) } }
    }

    /// The only line written; fails the test when there is not exactly one.
    func onlyLine(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let lines = self.lines
        try #require(lines.count == 1, "expected one line, got \(lines.count)", sourceLocation: sourceLocation)
        return lines[0]
    }

    /// The only line, parsed as a JSON object.
    func onlyObject(sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try Self.parse(onlyLine(sourceLocation: sourceLocation), sourceLocation: sourceLocation)
    }

    static func parse(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any], sourceLocation: sourceLocation)
    }
}

/// A fixed instant, 2026-12-03T07:21:04.123Z.
let fixedInstant = LogTimestamp(seconds: 1_796_282_464, milliseconds: 123)

extension Logger {
    /// A logger at `.trace` whose JSON lines go to `collector`, stamped with `fixedInstant`.
    static func json(
        _ collector: LineCollector,
        label: String = "test",
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> Logger {
        var logger = Logger(label: label) { label in
            JSONLogHandler(label: label, output: collector.output, metadataProvider: metadataProvider, now: { fixedInstant })
        }
        logger.logLevel = .trace
        return logger
    }

    /// A logger at `.trace` whose text lines go to `collector`, stamped with `fixedInstant`.
    static func text(
        _ collector: LineCollector,
        label: String = "test",
        metadataProvider: Logger.MetadataProvider? = nil
    ) -> Logger {
        var logger = Logger(label: label) { label in
            TextLogHandler(label: label, output: collector.output, metadataProvider: metadataProvider, now: { fixedInstant })
        }
        logger.logLevel = .trace
        return logger
    }
}
