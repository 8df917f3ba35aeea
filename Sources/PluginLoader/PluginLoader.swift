import ModelHostCore
import ModelManifest

/// Turns a bundle on disk into a ready plugin instance: verify, `dlopen`, check the ABI, create,
/// warm up. A version is ready only when every step has passed.
public struct PluginLoader: Sendable {
    /// A bundle whose plugin is loaded, created and warmed up.
    public struct LoadedBundle: Sendable {
        /// The bundle directory, with symlinks resolved.
        public var directory: String
        /// The bundle's manifest.
        public var manifest: Manifest
        /// The ready instance.
        public var instance: PluginInstance
        /// The manifest's input rules, compiled.
        public var validator: InputValidator
    }

    private let verifier = BundleVerifier()

    /// Creates a loader.
    public init() {}

    /// Loads the bundle at `directory`.
    ///
    /// - Throws: ``BundleError`` naming the step that failed; nothing of a failed bundle serves.
    public func load(bundleAt directory: String) async throws(BundleError) -> LoadedBundle {
        let bundle = try verifier.verify(bundleAt: directory)
        let validator: InputValidator
        do {
            validator = try InputValidator(manifest: bundle.manifest)
        } catch {
            throw BundleError(.invalidManifest, bundle: directory, error.description)
        }
        let library = try PluginLibrary.open(path: bundle.libraryPath, bundle: directory, pluginName: bundle.manifest.name)
        let instance = try await PluginInstance.create(library: library, bundle: bundle)
        for (index, sample) in bundle.manifest.warmup.enumerated() {
            do {
                _ = try await instance.infer(sample.inputs)
            } catch {
                throw BundleError(.warmupFailed, bundle: directory, "warmup sample \(index) failed: \(error.message)")
            }
        }
        return LoadedBundle(directory: bundle.directory, manifest: bundle.manifest, instance: instance, validator: validator)
    }

    /// Runs every check that needs no plugin code, then loads the plugin as ``load(bundleAt:)``
    /// does, for `modelhost validate`.
    ///
    /// - Throws: ``BundleError`` naming the step that failed.
    public func validate(bundleAt directory: String) async throws(BundleError) -> Manifest {
        try await load(bundleAt: directory).manifest
    }
}
