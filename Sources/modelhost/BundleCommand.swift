import ArgumentParser
import Foundation
import ModelHostCore
import ModelManifest
import PluginLoader

/// `modelhost bundle`: assemble a bundle from a manifest, a library and artifacts.
struct BundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Assemble a bundle at <out>/<name>/<version>/, filling in the library's SHA-256.",
        discussion: "The bundle is written to a hidden staging folder and renamed into place, so a running server never sees it half-copied."
    )

    @Option(name: .long, help: "The source manifest (its sha256 may be empty).")
    var manifest: String

    @Option(name: .long, help: "The plugin library; copied under the manifest's `library` name.")
    var library: String

    @Option(name: .long, help: "The models directory the bundle goes into.")
    var out: String

    @Option(name: .long, help: "A file to copy into the bundle (repeatable).")
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
        let sha256 = try SHA256.hexDigest(ofFileAt: library)

        let modelDirectory = URL(fileURLWithPath: out).appendingPathComponent(parsed.name)
        let destination = modelDirectory.appendingPathComponent(parsed.version.description)
        if files.fileExists(atPath: destination.path), !force {
            throw ValidationError("\(destination.path) already exists; pass --force to replace it")
        }
        try files.createDirectory(at: modelDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let staging = modelDirectory.appendingPathComponent(".\(parsed.version).staging-\(UUID().uuidString)")
        try files.createDirectory(at: staging, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        do {
            let libraryCopy = staging.appendingPathComponent(parsed.library)
            try files.copyItem(at: URL(fileURLWithPath: library), to: libraryCopy)
            try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: libraryCopy.path)
            for file in artifact {
                let copy = staging.appendingPathComponent((file as NSString).lastPathComponent)
                try files.copyItem(at: URL(fileURLWithPath: file), to: copy)
                try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy.path)
            }
            let manifestCopy = staging.appendingPathComponent(BundleVerifier.manifestFileName)
            try Self.filledManifest(at: manifest, sha256: sha256).write(to: manifestCopy)
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

    /// The manifest's JSON with `sha256` set, every other value kept.
    private static func filledManifest(at path: String, sha256: String) throws -> Data {
        let original = try JSONDecoder().decode([String: JSONValue].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        var filled = original
        filled["sha256"] = .string(sha256)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(filled) + Data("\n".utf8)
    }
}
