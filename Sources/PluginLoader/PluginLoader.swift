import ModelHostCore
import ModelManifest

/// Turns a bundle on disk into a ready plugin instance: verify, copy the library into the
/// library cache (when configured), `dlopen`, check the ABI, create, warm up. A version is ready
/// only when every step has passed.
///
/// Loading runs plugin code and blocks: the Scheduler calls it on the version's own thread, under
/// the load timeout.
public struct PluginLoader: Sendable {
    /// How bundles are loaded.
    public struct Configuration: Sendable, Hashable {
        /// The directory of content-addressed library copies (see ``LibraryCache``), normally
        /// `<models>/.modelhost/libs`. When set, a verified bundle's library is copied there
        /// (unless a good copy is there already), the copy is hashed, and the copy is what is
        /// mapped: the library cannot change between its check and its load, and a bundle
        /// deployed again at the same path with new bytes maps the new code. `nil` maps the
        /// library from its bundle, for tests and embedders without a models directory.
        /// Default `nil`.
        public var libraryCache: String? = nil

        /// Creates a configuration with every field at its default.
        public init() {}
    }

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
        /// The path the library was mapped from: its copy in the library cache, or the
        /// bundle's library when there is no cache.
        public var libraryPath: String
    }

    /// How bundles are loaded.
    public let configuration: Configuration
    private let verifier = BundleVerifier()

    /// Creates a loader.
    ///
    /// - Parameter configuration: How bundles are loaded.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Loads the bundle at `directory` on the current thread.
    ///
    /// An instance whose warmup fails is destroyed, on the current thread, before this throws.
    ///
    /// - Throws: ``BundleError`` naming the step that failed; nothing of a failed bundle serves.
    public func load(bundleAt directory: String) throws(BundleError) -> LoadedBundle {
        try load(try verifier.verify(bundleAt: directory), bundleAt: directory)
    }

    /// Loads a bundle that passed verification: copies its library into the cache when there is
    /// one, maps it, creates an instance and warms it up.
    ///
    /// - Parameters:
    ///   - bundle: What ``BundleVerifier/verify(bundleAt:)`` returned.
    ///   - directory: The bundle directory as given, for errors.
    /// - Throws: ``BundleError`` naming the step that failed.
    func load(_ bundle: BundleVerifier.VerifiedBundle, bundleAt directory: String) throws(BundleError) -> LoadedBundle {
        let validator: InputValidator
        do {
            validator = try InputValidator(manifest: bundle.manifest)
        } catch {
            throw BundleError(.invalidManifest, bundle: directory, error.description)
        }
        var libraryPath = bundle.libraryPath
        if let cache = configuration.libraryCache {
            libraryPath = try LibraryCache(directory: cache).verifiedCopy(ofLibraryAt: bundle.libraryPath, sha256: bundle.manifest.sha256, bundle: directory)
        }
        let library = try PluginLibrary.open(path: libraryPath, bundle: directory, pluginName: bundle.manifest.name)
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
        return LoadedBundle(directory: bundle.directory, manifest: bundle.manifest, instance: instance, validator: validator, libraryPath: libraryPath)
    }
}
