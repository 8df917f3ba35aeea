import ArgumentParser
import Foundation
import ModelManifest
import PluginLoader
import Scheduler

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost validate`: run every check the server runs on a bundle, and say what failed.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a bundle as the server would: manifest, layout, checksum, permissions, ABI, create and warmup.",
        discussion: """
            Loads the bundle on a thread of its own under the same load timeout as serve. Like serve, it maps a \
            verified copy of the library, but from a private temporary directory removed on exit, so it never \
            writes into the models directory. Exits 0 when the bundle would serve, 1 with the reason when it would not.
            """
    )

    @Argument(help: "The bundle directory, <models>/<name>/<version>.")
    var bundle: String

    @Option(name: .long, help: "Seconds loading may take (dlopen, create, warmup), unless the manifest asks for more.")
    var loadTimeout: Int = 60

    func validate() throws {
        if loadTimeout < 1 { throw ValidationError("--load-timeout must be at least 1 second") }
    }

    func run() async throws {
        // The same copy-verify-map path as serve, in a cache of its own: validate may be run on
        // a models directory a server uses, and must not write into it.
        guard let cache = Self.makeTemporaryCache() else {
            print("invalid: library_cache_failed: a temporary library cache cannot be created: \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        defer { try? FileManager.default.removeItem(atPath: cache) }
        var configuration = Scheduler.Configuration()
        configuration.loadTimeout = .seconds(loadTimeout)
        configuration.libraryCache = cache
        let scheduler = Scheduler(configuration: configuration)
        let path = URL(fileURLWithPath: bundle).standardizedFileURL
        let result = await scheduler.load(bundleAt: bundle, name: path.deletingLastPathComponent().lastPathComponent, version: path.lastPathComponent)
        switch result {
        case .success(let loaded):
            print("ok: \(loaded.manifest.name) \(loaded.manifest.version) (\(bundle))")
            _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        case .failure(let error):
            print("invalid: \(error.code): \(error.message)")
            print("  bundle: \(bundle)")
            // A load that timed out leaves its thread in plugin code: exit without waiting for it.
            throw ExitCode(1)
        }
    }

    /// A fresh private directory (mode 0700, from `mkdtemp`) under the system's temporary
    /// directory, for one run's library copies; `nil` with `errno` set when none can be made.
    private static func makeTemporaryCache() -> String? {
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("modelhost-validate-XXXXXX").path.utf8CString)
        return template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) }
    }
}
