import Foundation
import ModelHostTestKit

/// One run of the built `modelhost` binary to its exit: status, standard output and error.
struct ModelHostRun: Sendable {
    var status: Int32
    var output: String
    var errors: String

    /// Runs the binary with `arguments` on a thread of its own and waits for it.
    ///
    /// - Parameter environment: Variables to set, or (with `nil` values) to remove, on top of the
    ///   test's own environment.
    static func run(_ arguments: [String], environment: [String: String?] = [:]) async throws -> ModelHostRun {
        try await onThread { try runBlocking(arguments, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], environment: [String: String?]) throws -> ModelHostRun {
        let process = Process()
        process.executableURL = TestPaths.buildDirectory.appendingPathComponent("modelhost")
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        for (name, value) in environment { variables[name] = value }
        process.environment = variables
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Output this small fits the pipes' buffers, so reading one after the other cannot block.
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ModelHostRun(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), errors: String(decoding: err, as: UTF8.self))
    }
}
