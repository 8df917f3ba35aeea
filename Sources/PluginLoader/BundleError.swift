/// A bundle the host cannot serve: which bundle, which check failed, and why.
///
/// One bad bundle never stops the host: the error is logged, shown in the repository index, and
/// every other bundle serves.
public struct BundleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The check that failed. New codes may be added; match on the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable spelling, shown in the repository index.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The manifest is missing, unreadable or invalid.
        public static let invalidManifest = Code("invalid_manifest")
        /// The bundle's folders are not `<name>/<version>/` as the manifest says.
        public static let layoutMismatch = Code("layout_mismatch")
        /// The library file named by the manifest is not in the bundle.
        public static let libraryMissing = Code("library_missing")
        /// An artifact the manifest lists under `artifacts` is not in the bundle, or is not a
        /// regular file.
        public static let artifactMissing = Code("artifact_missing")
        /// The SHA-256 of the library, of its copy in the library cache, or of a listed artifact
        /// differs from the manifest's; the message names the file.
        public static let checksumMismatch = Code("checksum_mismatch")
        /// The library or a listed artifact resolves outside the bundle (symlink or `..`).
        public static let pathEscape = Code("path_escape")
        /// The models directory, the model directory, the bundle, the manifest, the library or a
        /// listed artifact is writable by group or others; or the library cache directory is, or
        /// is owned by another user.
        public static let insecurePermissions = Code("insecure_permissions")
        /// The library could not be copied into the library cache, or the cache directory could
        /// not be created or read (disk full, read-only file system, not a directory).
        public static let libraryCacheFailed = Code("library_cache_failed")
        /// `dlopen` refused the library.
        public static let loadFailed = Code("load_failed")
        /// The library does not export the entry symbol.
        public static let entryMissing = Code("entry_missing")
        /// The plugin was built for another ABI, or its table is not one the host understands.
        public static let abiMismatch = Code("abi_mismatch")
        /// The plugin's `create` failed.
        public static let createFailed = Code("create_failed")
        /// A warmup sample failed.
        public static let warmupFailed = Code("warmup_failed")
        /// Loading (dlopen, create, warmup) did not finish within the load timeout; its thread
        /// is abandoned.
        public static let loadTimedOut = Code("load_timed_out")

        public var description: String { rawValue }
    }

    /// The check that failed.
    public var code: Code
    /// The bundle directory.
    public var bundle: String
    /// What is wrong and, where there is one, the fix.
    public var message: String
    /// Whether the failure may pass if the load is tried again: set when the plugin's `create`
    /// returned `MH_ERROR_UNAVAILABLE` (code ``Code/createFailed``). Every other failure is
    /// permanent until the bundle changes. Default `false`.
    public var isTransient: Bool

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The check that failed.
    ///   - bundle: The bundle directory.
    ///   - message: What is wrong and the fix.
    ///   - isTransient: Whether trying the load again may succeed.
    public init(_ code: Code, bundle: String, _ message: String, isTransient: Bool = false) {
        self.code = code
        self.bundle = bundle
        self.message = message
        self.isTransient = isTransient
    }

    public var description: String { "\(bundle): \(code): \(message)" }
}
