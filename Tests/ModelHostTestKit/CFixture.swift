import Foundation

/// Compiles a C plugin fixture into a shared library with the system's C compiler, so tests can
/// load plugins that misbehave in exactly one way.
public enum CFixture {
    /// Compiles `source` (C code that may include `modelhost_plugin.h`) into a shared library.
    ///
    /// - Parameters:
    ///   - source: The C source.
    ///   - name: The library's base name, unique per fixture.
    /// - Returns: The path of the built `.so`, in a fresh temporary directory.
    /// - Throws: ``TestKitError`` with the compiler's output when compilation fails.
    ///
    /// The compiler runs on a thread of its own (see ``onThread(_:)``): dozens of tests compile
    /// fixtures at once, and waiting for `cc` must not hold Swift's cooperative threads.
    public static func compile(_ source: String, name: String) async throws -> String {
        try await onThread { try compileBlocking(source, name: name) }
    }

    private static func compileBlocking(_ source: String, name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelhost-fixture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sourcePath = directory.appendingPathComponent("\(name).c").path
        let libraryPath = directory.appendingPathComponent("lib\(name).so").path
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-O1", "-I", TestPaths.abiIncludeDirectory, "-o", libraryPath, sourcePath]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let log = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestKitError("cc failed for fixture \(name): \(String(decoding: log, as: UTF8.self))")
        }
        return libraryPath
    }
}
