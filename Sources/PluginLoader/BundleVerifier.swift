import Foundation
import ModelHostCore
import ModelManifest

#if canImport(Glibc)
import Glibc
#endif

/// The checks a bundle must pass before any of its code is loaded.
///
/// A bundle is a directory `<models>/<name>/<version>/` holding `manifest.json`, the plugin library
/// and its artifacts. Verification reads files only; it never runs plugin code.
public struct BundleVerifier: Sendable {
    /// A bundle that passed every check.
    public struct VerifiedBundle: Sendable, Hashable {
        /// The bundle directory, with symlinks resolved.
        public var directory: String
        /// The parsed manifest.
        public var manifest: Manifest
        /// The library's path, inside ``directory``.
        public var libraryPath: String
    }

    /// The manifest's file name inside a bundle.
    public static let manifestFileName = "manifest.json"

    /// Creates a verifier.
    public init() {}

    /// Checks the bundle at `directory`: manifest, layout, where the library and the listed
    /// artifacts resolve, permissions, then the checksums of the library and of each listed
    /// artifact, in that order, stopping at the first failure.
    ///
    /// Permissions are checked on the models directory and the model directory above the bundle
    /// (as given, symlinks resolved), the bundle directory, the manifest, the library, and each
    /// listed artifact with the folders inside the bundle that hold it: none may be writable by
    /// group or others, since whoever can write one of them can replace what it holds.
    ///
    /// - Throws: ``BundleError`` naming the check and the fix.
    public func verify(bundleAt directory: String) throws(BundleError) -> VerifiedBundle {
        guard let root = Self.realPath(directory) else {
            throw BundleError(.invalidManifest, bundle: directory, "the bundle directory does not exist")
        }
        let manifestPath = root + "/" + Self.manifestFileName
        let manifest: Manifest
        do {
            manifest = try Manifest.load(contentsOf: manifestPath)
        } catch {
            throw BundleError(.invalidManifest, bundle: directory, error.description)
        }

        // The layout is judged by the path as given: a bundle folder may itself be a symlink.
        let given = URL(fileURLWithPath: directory).standardizedFileURL
        let versionFolder = given.lastPathComponent
        let modelFolder = given.deletingLastPathComponent()
        let nameFolder = modelFolder.lastPathComponent
        guard versionFolder == manifest.version.description, nameFolder == manifest.name else {
            throw BundleError(
                .layoutMismatch, bundle: directory,
                "the manifest describes \(manifest.name) \(manifest.version), so the bundle must be at <models>/\(manifest.name)/\(manifest.version)/, not .../\(nameFolder)/\(versionFolder)/"
            )
        }

        let libraryPath = root + "/" + manifest.library
        guard FileManager.default.fileExists(atPath: libraryPath) else {
            throw BundleError(.libraryMissing, bundle: directory, "library \"\(manifest.library)\" named by the manifest is not in the bundle")
        }
        guard let resolvedLibrary = Self.realPath(libraryPath), resolvedLibrary.hasPrefix(root + "/"),
              !resolvedLibrary.dropFirst(root.count + 1).contains("/")
        else {
            throw BundleError(.pathEscape, bundle: directory, "library \"\(manifest.library)\" resolves to \(Self.realPath(libraryPath) ?? "nothing"), outside the bundle; copy the file into the bundle instead of linking it")
        }
        let artifacts = try locateArtifacts(of: manifest, in: root, bundle: directory)

        var guarded: [(what: String, path: String)] = []
        if let models = Self.realPath(modelFolder.deletingLastPathComponent().path) { guarded.append(("models directory", models)) }
        if let model = Self.realPath(modelFolder.path) { guarded.append(("model directory", model)) }
        guarded += [("bundle directory", root), ("manifest", manifestPath), ("library", resolvedLibrary)]
        guarded += artifacts.flatMap(\.guarded)
        for (what, path) in guarded {
            if let mode = Self.mode(of: path), mode & (S_IWGRP | S_IWOTH) != 0 {
                throw BundleError(
                    .insecurePermissions, bundle: directory,
                    "the \(what) is writable by group or others (mode \(String(mode & 0o777, radix: 8))); run chmod go-w on it"
                )
            }
        }

        guard !manifest.sha256.isEmpty else {
            throw BundleError(.checksumMismatch, bundle: directory, "the manifest's sha256 is empty; assemble the bundle with `modelhost bundle`, which fills it in")
        }
        let actual: String
        do {
            actual = try SHA256.hexDigest(ofFileAt: resolvedLibrary)
        } catch {
            throw BundleError(.libraryMissing, bundle: directory, "library \"\(manifest.library)\" cannot be read: \(error.localizedDescription)")
        }
        guard actual == manifest.sha256 else {
            throw BundleError(.checksumMismatch, bundle: directory, "library \"\(manifest.library)\" has SHA-256 \(actual), the manifest says \(manifest.sha256)")
        }
        try checkDigests(of: artifacts, bundle: directory)
        return VerifiedBundle(directory: root, manifest: manifest, libraryPath: resolvedLibrary)
    }

    /// `path` with every symlink resolved, or `nil` when it does not exist.
    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The `st_mode` of `path`, symlinks followed, or `nil` when it cannot be read.
    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode
    }
}
