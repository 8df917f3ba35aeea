import ArgumentParser
import Foundation
import ModelHostCore
import ModelManifest
import PluginLoader

/// `modelhost bundle`: assemble a bundle from a manifest, a library and artifacts.
struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Assemble a bundle at <out>/<name>/<version>/, filling in the SHA-256 of the library and of every artifact.",
        discussion: """
            Each --artifact is copied to the bundle's top level under its file name and listed in the manifest's \
            `artifacts` with its SHA-256 (an entry the manifest already lists keeps its place and gets its digest \
            filled in; an entry no --artifact names is an error). The bundle is written to a hidden staging \
            folder and renamed into place, so a running server never sees it half-copied.
            """
    )

    @Option(name: .long, help: "The source manifest (its sha256 values may be empty).")
    var manifest: String

    @Option(name: .long, help: "The plugin library; copied under the manifest's `library` name.")
    var library: String

    @Option(name: .long, help: "The models directory the bundle goes into.")
    var out: String

    @Option(name: .long, help: "A file to copy into the bundle and list, hashed, in `artifacts` (repeatable).")
    var artifact: [String] = []

    @Flag(name: .long, help: "Replace a bundle that already exists.")
    var force = false

    func run() throws {
        let parsed: Manifest
        do {
            parsed = try Manifest.load(contentsOf: manifest)
        } catch {
            throw ValidationError(error.description)
        }
        let files = FileManager.default
        guard files.fileExists(atPath: library) else { throw ValidationError("library \(library) does not exist") }
        for file in artifact where !files.fileExists(atPath: file) {
            throw ValidationError("artifact \(file) does not exist")
        }
        let artifactNames = try Self.artifactNames(listed: parsed.artifacts.map(\.path), given: artifact, library: parsed.library)

        let modelDirectory = URL(fileURLWithPath: out).appendingPathComponent(parsed.name)
        let destination = modelDirectory.appendingPathComponent(parsed.version.description)
        if files.fileExists(atPath: destination.path), !force {
            throw ValidationError("\(destination.path) already exists; pass --force to replace it")
        }
        try files.createDirectory(at: modelDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let staging = modelDirectory.appendingPathComponent(".\(parsed.version).staging-\(UUID().uuidString)")
        try files.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        do {
            // Digests are taken of the staged copies: what the bundle holds is what they describe.
            let libraryCopy = staging.appendingPathComponent(parsed.library)
            try files.copyItem(at: URL(fileURLWithPath: library), to: libraryCopy)
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: libraryCopy.path)
            let sha256 = try SHA256.hexDigest(ofFileAt: libraryCopy.path)
            var digests: [String: String] = [:]
            for (file, name) in zip(artifact, artifactNames.given) {
                let copy = staging.appendingPathComponent(name)
                try files.copyItem(at: URL(fileURLWithPath: file), to: copy)
                try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy.path)
                digests[name] = try SHA256.hexDigest(ofFileAt: copy.path)
            }
            let artifacts = artifactNames.ordered.map { ArtifactSpec(path: $0, sha256: digests[$0] ?? "") }
            let manifestCopy = staging.appendingPathComponent(BundleVerifier.manifestFileName)
            try Self.filledManifest(at: manifest, sha256: sha256, artifacts: artifacts).write(to: manifestCopy)
            try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: manifestCopy.path)
            if files.fileExists(atPath: destination.path) {
                try files.removeItem(at: destination)
            }
            try files.moveItem(at: staging, to: destination)
        } catch {
            try? files.removeItem(at: staging)
            throw error
        }
        print(destination.path)
    }

    /// The bundle's name of each `--artifact` (its file name), and every artifact the manifest
    /// will list: the listed ones in their order, then the others in the order given.
    ///
    /// - Throws: `ValidationError` when two artifacts share a file name, one is named like the
    ///   library or the manifest, or the manifest lists one no `--artifact` names.
    static func artifactNames(listed: [String], given: [String], library: String) throws -> (given: [String], ordered: [String]) {
        let names = given.map { ($0 as NSString).lastPathComponent }
        var seen: Set<String> = []
        for name in names {
            guard seen.insert(name).inserted else { throw ValidationError("two --artifact files are named \(name); a bundle holds one") }
            guard name != library, name != BundleVerifier.manifestFileName else {
                throw ValidationError("--artifact \(name) has the name of the bundle's \(name == library ? "library" : "manifest")")
            }
        }
        for path in listed where !seen.contains(path) {
            throw ValidationError(
                "the manifest lists artifact \"\(path)\", which no --artifact names; bundle copies each --artifact to the bundle's top level under its file name"
            )
        }
        let listedSet = Set(listed)
        return (names, listed + names.filter { !listedSet.contains($0) })
    }

    /// The manifest's JSON with `sha256` set and, when there are any, `artifacts` listed with
    /// their digests; every other value kept.
    private static func filledManifest(at path: String, sha256: String, artifacts: [ArtifactSpec]) throws -> Data {
        let original = try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var filled = original
        filled["sha256"] = .string(sha256)
        if !artifacts.isEmpty {
            filled["artifacts"] = .array(artifacts.map { .object(["path": .string($0.path), "sha256": .string($0.sha256)]) })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(filled) + Data("\n".utf8)
    }
}
