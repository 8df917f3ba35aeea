import ModelHostCore
import ModelManifest

/// Turns a bundle on disk into a ready plugin instance: verify, `dlopen`, check the ABI, create,
/// warm up. A version is ready only when every step has passed.
///
/// Loading runs plugin code and blocks: the Scheduler calls it on the version's own thread, under
/// the load timeout.
public struct PluginLoader: Sendable {
    /// A bundle whose plugin is loaded, created and warmed up.
    public struct LoadedBundle: Sendable {
        /// The bundle directory, with symlinks resolved.
        public var directory: String
        /// The bundle's manifest.
        public var manifest: Manifest
        /// The ready instance; its owner must ``PluginInstance/destroy()`` it.
        public var instance: PluginInstance
        /// The manifest's input rules, compiled.
        public var validator: InputValidator
    }

    private let verifier = BundleVerifier()

    /// Creates a loader.
    public init() {}

    /// Loads the bundle at `directory` on the current thread.
    ///
    /// An instance whose warmup fails is destroyed, on the current thread, before this throws.
    ///
    /// - Throws: ``BundleError`` naming the step that failed; nothing of a failed bundle serves.
    public func load(bundleAt directory: String) throws(BundleError) -> LoadedBundle {
        let bundle = try verifier.verify(bundleAt: directory)
        let validator: InputValidator
        do {
            validator = try InputValidator(manifest: bundle.manifest)
        } catch {
            throw BundleError(.invalidManifest, bundle: directory, error.description)
        }
        let library = try PluginLibrary.open(path: bundle.libraryPath, bundle: directory, pluginName: bundle.manifest.name)
        if bundle.manifest.limits.isBatching, !library.supportsBatching {
            throw BundleError(
                .invalidManifest, bundle: directory,
                "limits.batchDelayMs asks for dynamic batching, but the plugin does not declare batch support (MH_CAPABILITY_BATCHING)"
            )
        }
        let instance = try PluginInstance.create(library: library, bundle: bundle)
        for (index, sample) in bundle.manifest.warmup.enumerated() {
            if case .failure(let error) = instance.infer(sample.inputs, context: .unbounded) {
                instance.destroy()
                throw BundleError(.warmupFailed, bundle: directory, "warmup sample \(index) failed: \(error.message)")
            }
        }
        return LoadedBundle(directory: bundle.directory, manifest: bundle.manifest, instance: instance, validator: validator)
    }
}
