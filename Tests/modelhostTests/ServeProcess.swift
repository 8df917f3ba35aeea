import Foundation
import ModelHostTestKit

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve` running as an operator runs it: a child process on a free port, whose
/// standard error the test reads and which it stops with a signal.
final class ServeProcess: @unchecked Sendable {
    // Safe: `log` is only touched under `lock`; everything else is set once in init.
    private let process = Process()
    private let lock = NSLock()
    private var log = ""
    /// The port the server listens on.
    private(set) var port = 0

    /// Starts `modelhost serve` with `arguments` (`--port 0` is added) and waits until it listens.
    init(_ arguments: [String]) throws {
        process.executableURL = TestPaths.buildDirectory.appendingPathComponent("modelhost")
        process.arguments = ["serve", "--port", "0", "--metrics-port", "0"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.log += String(decoding: data, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let range = self.output.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(self.output[range].split(separator: ":").last!)!
                return
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw TestKitError("modelhost serve did not listen: \(output)")
    }

    /// The metrics listener's port, once the server has said where it listens.
    var metricsPort: Int? {
        guard let range = output.range(of: #"metrics on http://127\.0\.0\.1:(\d+)/metrics"#, options: .regularExpression) else { return nil }
        return Int(output[range].split(separator: ":").last!.split(separator: "/").first!)
    }

    /// What the server has written to standard error so far.
    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return log
    }

    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// The server's resident memory, in bytes, from `/proc/<pid>/status`.
    var residentBytes: Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }

    /// Sends `signal` to the server.
    func send(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits for the process to exit, at most `limit`.
    ///
    /// - Returns: The exit status, or `nil` if it is still running (it is then killed).
    func waitForExit(within limit: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        guard !process.isRunning else {
            kill(pid, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
