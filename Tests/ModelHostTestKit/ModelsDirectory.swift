import Foundation
import ModelHostCore

/// A temporary models directory that tests fill with bundles, removed when dropped.
public final class ModelsDirectory: Sendable {

    /// The directory's path.
    public let path: String

    /// Creates an empty directory under the system's temporary directory.
    public init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelhost-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes a bundle at `<path>/<name>/<version>/` from a manifest template.
    ///
    /// - Parameters:
    ///   - manifest: A JSON object; `sha256` is set to the library's digest unless `sha256` is given,
    ///     and each entry of `artifacts` whose `sha256` is empty gets the digest of the file at its
    ///     `path` (entries with a digest keep it, so a test can write a wrong one).
    ///   - library: The library to copy in under the manifest's `library` name.
    ///   - artifacts: Files to copy in, at the bundle's top level.
    ///   - sha256: A digest to write instead of the real one.
    /// - Returns: The bundle directory.
    @discardableResult
    public func addBundle(manifest: [String: Any], library: String?, artifacts: [String] = [], sha256: String? = nil) throws -> String {
        let name = manifest["name"] as? String ?? "unnamed"
        let version = manifest["version"] as? String ?? "0.0.0"
        let directory = "\(path)/\(name)/\(version)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(path)/\(name)")
        var manifest = manifest
        if let library, let fileName = manifest["library"] as? String {
            let destination = "\(directory)/\(fileName)"
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: library, toPath: destination)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: destination)
            manifest["sha256"] = try sha256 ?? SHA256.hexDigest(ofFileAt: destination)
        } else if let sha256 {
            manifest["sha256"] = sha256
        }
        for artifact in artifacts {
            let destination = "\(directory)/\((artifact as NSString).lastPathComponent)"
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: artifact, toPath: destination)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: destination)
        }
        if let entries = manifest["artifacts"] as? [[String: Any]] {
            manifest["artifacts"] = try entries.map { entry in
                var entry = entry
                if entry["sha256"] as? String == "", let path = entry["path"] as? String {
                    entry["sha256"] = try SHA256.hexDigest(ofFileAt: "\(directory)/\(path)")
                }
                return entry
            }
        }
        let data = try JSONSerialization.data(withJSONObject: manifest, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: "\(directory)/manifest.json"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: "\(directory)/manifest.json")
        return directory
    }

    /// Reads one of the example manifests in `manifests/` as a JSON object to adapt.
    public static func exampleManifest(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestPaths.manifest(name)))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestKitError("manifests/\(name).json is not a JSON object")
        }
        return object
    }

    /// A bundle of one of the examples (`echo`, `intent-classifier`, `anomaly-detector`) built
    /// from its manifest, the library the build produced and its artifacts.
    @discardableResult
    public func addExample(_ name: String, version: String? = nil, edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        var manifest = try Self.exampleManifest(name)
        if let version { manifest["version"] = version }
        edit(&manifest)
        let library = try TestPaths.builtLibrary(manifest["library"] as? String ?? "")
        let artifactDirectory = TestPaths.packageRoot.appendingPathComponent("plugins/\(name)/artifacts").path
        let artifacts = ((try? FileManager.default.contentsOfDirectory(atPath: artifactDirectory)) ?? []).map { "\(artifactDirectory)/\($0)" }
        return try addBundle(manifest: manifest, library: library, artifacts: artifacts)
    }
}
