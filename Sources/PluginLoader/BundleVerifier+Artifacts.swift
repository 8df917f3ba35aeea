import Foundation
import ModelHostCore
import ModelManifest

#if canImport(Glibc)
import Glibc
#endif

extension BundleVerifier {
    /// An artifact the manifest lists, found inside the bundle.
    struct LocatedArtifact {
        /// The manifest's entry.
        var spec: ArtifactSpec
        /// The file, with symlinks resolved; inside the bundle.
        var path: String
        /// The file and every folder inside the bundle that holds it, each with what to call it
        /// in a permissions error.
        var guarded: [(what: String, path: String)]
    }

    /// Finds every artifact the manifest lists: present, a regular file, and resolving inside the
    /// bundle.
    ///
    /// - Parameters:
    ///   - manifest: The bundle's manifest.
    ///   - root: The bundle directory, symlinks resolved.
    ///   - bundle: The bundle directory as given, for errors.
    /// - Throws: ``BundleError`` with ``BundleError/Code/artifactMissing`` or
    ///   ``BundleError/Code/pathEscape``.
    func locateArtifacts(of manifest: Manifest, in root: String, bundle: String) throws(BundleError) -> [LocatedArtifact] {
        var located: [LocatedArtifact] = []
        for spec in manifest.artifacts {
            let path = root + "/" + spec.path
            guard FileManager.default.fileExists(atPath: path) else {
                throw BundleError(.artifactMissing, bundle: bundle, "artifact \"\(spec.path)\" listed in the manifest is not in the bundle")
            }
            guard let resolved = Self.realPath(path), resolved.hasPrefix(root + "/") else {
                throw BundleError(
                    .pathEscape, bundle: bundle,
                    "artifact \"\(spec.path)\" resolves to \(Self.realPath(path) ?? "nothing"), outside the bundle; copy the file into the bundle instead of linking it"
                )
            }
            guard let mode = Self.mode(of: resolved), mode & S_IFMT == S_IFREG else {
                throw BundleError(.artifactMissing, bundle: bundle, "artifact \"\(spec.path)\" listed in the manifest is not a regular file")
            }
            var guarded = [(what: "artifact \"\(spec.path)\"", path: resolved)]
            var folder = (resolved as NSString).deletingLastPathComponent
            while folder.count > root.count, folder.hasPrefix(root + "/") {
                let name = String(folder.dropFirst(root.count + 1))
                guarded.append((what: "folder \"\(name)\" holding artifact \"\(spec.path)\"", path: folder))
                folder = (folder as NSString).deletingLastPathComponent
            }
            located.append(LocatedArtifact(spec: spec, path: resolved, guarded: guarded))
        }
        return located
    }

    /// Checks each artifact's SHA-256 against the manifest's.
    ///
    /// - Throws: ``BundleError`` with ``BundleError/Code/checksumMismatch`` naming the artifact,
    ///   also when its digest in the manifest is empty.
    func checkDigests(of artifacts: [LocatedArtifact], bundle: String) throws(BundleError) {
        for artifact in artifacts {
            let name = artifact.spec.path
            guard !artifact.spec.sha256.isEmpty else {
                throw BundleError(
                    .checksumMismatch, bundle: bundle,
                    "the manifest's sha256 of artifact \"\(name)\" is empty; assemble the bundle with `modelhost bundle`, which fills it in"
                )
            }
            let actual: String
            do {
                actual = try SHA256.hexDigest(ofFileAt: artifact.path)
            } catch {
                throw BundleError(.artifactMissing, bundle: bundle, "artifact \"\(name)\" cannot be read: \(error.localizedDescription)")
            }
            guard actual == artifact.spec.sha256 else {
                throw BundleError(.checksumMismatch, bundle: bundle, "artifact \"\(name)\" has SHA-256 \(actual), the manifest says \(artifact.spec.sha256)")
            }
        }
    }
}
