import ArgumentParser
import ModelManifest
import PluginLoader

/// `modelhost validate`: run every check the server runs on a bundle, and say what failed.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a bundle as the server would: manifest, layout, checksum, permissions, ABI, create and warmup.",
        discussion: "Exits 0 when the bundle would serve, 1 with the reason when it would not."
    )

    @Argument(help: "The bundle directory, <models>/<name>/<version>.")
    var bundle: String

    func run() async throws {
        do {
            let manifest = try await PluginLoader().validate(bundleAt: bundle)
            print("ok: \(manifest.name) \(manifest.version) (\(bundle))")
        } catch {
            print("invalid: \(error.code): \(error.message)")
            print("  bundle: \(bundle)")
            throw ExitCode(1)
        }
    }
}
