import ArgumentParser
import Foundation

/// A command that calls a server failed: a message for standard error and the exit status that
/// says what kind of failure it was.
struct CommandFailure: Error, CustomStringConvertible {
    /// The exit status of a failure, from `sysexits.h` where one fits.
    struct Status: Hashable, Sendable {
        /// The exit status.
        let rawValue: Int32
        private init(_ rawValue: Int32) { self.rawValue = rawValue }

        /// The server answered with an error (an unknown model or version, a bad request, 5xx): 1.
        static let refused = Status(1)
        /// The server could not be reached or did not answer in time (`EX_UNAVAILABLE`): 69.
        static let unreachable = Status(69)
        /// The server's answer was not what this command understands (`EX_PROTOCOL`): 76.
        static let badAnswer = Status(76)
        /// The key is missing, refused or lacks the scope (`EX_NOPERM`): 77.
        static let unauthorized = Status(77)
        /// The environment is unusable, such as a key variable holding more than a key (`EX_CONFIG`): 78.
        static let configuration = Status(78)
    }

    /// What kind of failure.
    var status: Status
    /// What happened, in one line, never with a key in it.
    var message: String
    /// The server's error body as it answered it, when there was one: what `--json` prints.
    var answer: [UInt8]?

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { message }

    /// Runs `body`; a failure is written to standard error as `modelhost: <message>` and becomes
    /// its exit status.
    ///
    /// - Throws: `ExitCode` with the failure's status.
    static func reporting(_ body: () async throws(CommandFailure) -> Void) async throws {
        do {
            try await body()
        } catch {
            FileHandle.standardError.write(Data("modelhost: \(error.message)\n".utf8))
            throw ExitCode(error.status.rawValue)
        }
    }
}
