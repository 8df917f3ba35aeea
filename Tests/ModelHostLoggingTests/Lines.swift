import Synchronization

@testable import ModelHostLogging

/// The lines a handler wrote, collected.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])

    /// An output that appends here.
    var output: LogOutput {
        LogOutput.custom { line in self.lines.withLock { $0.append(line) } }
    }

    /// Every line so far.
    var all: [String] { lines.withLock { $0 } }
}
