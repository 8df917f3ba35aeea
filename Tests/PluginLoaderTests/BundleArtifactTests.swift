import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import PluginLoader
import Testing

/// The artifacts a manifest lists are checked like the library before any plugin code runs:
/// present, inside the bundle, not writable by group or others, and with the manifest's SHA-256.
struct BundleArtifactTests {
    @Test func listedArtifactsWithTheirDigestsVerify() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w", "vocab/words.txt": "a b c"], listed: ["weights.bin", "vocab/words.txt"])
        let verified = try BundleVerifier().verify(bundleAt: directory)
        #expect(verified.manifest.artifacts.map(\.path) == ["weights.bin", "vocab/words.txt"])
        #expect(verified.manifest.artifacts.first?.sha256 == SHA256.hexDigest(of: Array("w".utf8)))
    }

    @Test func theIntentClassifierExampleListsItsModelAndVerifies() throws {
        let models = try ModelsDirectory()
        let verified = try BundleVerifier().verify(bundleAt: models.addExample("intent-classifier"))
        #expect(verified.manifest.artifacts.map(\.path) == ["intent-model.json"])
    }

    @Test func filesTheManifestDoesNotListAreNotChecked() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w", "notes.txt": "n"], listed: ["weights.bin"])
        try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: directory + "/notes.txt")
        #expect(verificationError(directory) == nil)
    }

    @Test func aMissingArtifactIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w"], listed: ["weights.bin"])
        try FileManager.default.removeItem(atPath: directory + "/weights.bin")
        let error = try #require(verificationError(directory))
        #expect(error.code == .artifactMissing)
        #expect(error.message.contains("artifact \"weights.bin\" listed in the manifest is not in the bundle"))
    }

    @Test func anArtifactThatIsAFolderIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights/part.bin": "w"], listed: [])
        try relist(directory, ["weights": String(repeating: "0", count: 64)])
        let error = try #require(verificationError(directory))
        #expect(error.code == .artifactMissing)
        #expect(error.message.contains("artifact \"weights\" listed in the manifest is not a regular file"))
    }

    @Test func anArtifactWithOtherBytesIsRefusedByName() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w", "vocab.txt": "v"], listed: ["weights.bin", "vocab.txt"])
        try Data("tampered".utf8).write(to: URL(fileURLWithPath: directory + "/vocab.txt"))
        let error = try #require(verificationError(directory))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("artifact \"vocab.txt\" has SHA-256 \(SHA256.hexDigest(of: Array("tampered".utf8)))"))
        #expect(error.message.contains("the manifest says \(SHA256.hexDigest(of: Array("v".utf8)))"))
    }

    @Test func anArtifactWithAnEmptyDigestIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w"], listed: [])
        try relist(directory, ["weights.bin": ""])
        let error = try #require(verificationError(directory))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("sha256 of artifact \"weights.bin\" is empty"))
    }

    @Test func anArtifactThatLinksOutOfTheBundleIsRefused() throws {
        let models = try ModelsDirectory()
        let outside = models.path + "/.secret"
        try Data("s".utf8).write(to: URL(fileURLWithPath: outside))
        let directory = try artifactBundle(in: models, files: [:], listed: [])
        try FileManager.default.createSymbolicLink(atPath: directory + "/weights.bin", withDestinationPath: outside)
        try relist(directory, ["weights.bin": SHA256.hexDigest(of: Array("s".utf8))])
        let error = try #require(verificationError(directory))
        #expect(error.code == .pathEscape)
        #expect(error.message.contains("artifact \"weights.bin\" resolves to"))
        #expect(error.message.contains("outside the bundle"))
    }

    @Test(arguments: [
        ("weights/model.bin", "artifact \"weights/model.bin\"", "666"),
        ("weights", "folder \"weights\" holding artifact \"weights/model.bin\"", "775"),
    ])
    func anArtifactOrItsFolderWritableByOthersIsRefused(file: String, what: String, octalMode: String) throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights/model.bin": "w"], listed: ["weights/model.bin"])
        try FileManager.default.setAttributes([.posixPermissions: try #require(Int(octalMode, radix: 8))], ofItemAtPath: directory + "/" + file)
        let error = try #require(verificationError(directory))
        #expect(error.code == .insecurePermissions)
        #expect(error.message.contains("the \(what) is writable by group or others (mode \(octalMode))"))
    }

    @Test func aLoadIsRefusedBeforeAnyPluginCodeRuns() throws {
        let models = try ModelsDirectory()
        let directory = try artifactBundle(in: models, files: ["weights.bin": "w"], listed: ["weights.bin"])
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/weights.bin"))
        #expect(loadError(directory)?.code == .checksumMismatch)
    }
}

/// An echo bundle holding `files` (path inside the bundle → contents, folders made as needed)
/// whose manifest lists `listed` as artifacts with their real digests.
func artifactBundle(in models: ModelsDirectory, files: [String: String], listed: [String]) throws -> String {
    let directory = try models.addExample("echo")
    for (path, contents) in files {
        let url = URL(fileURLWithPath: directory + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try Data(contents.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
    }
    var digests: [String: String] = [:]
    for path in listed {
        digests[path] = try SHA256.hexDigest(ofFileAt: directory + "/" + path)
    }
    try relist(directory, digests, order: listed)
    return directory
}

/// Rewrites the bundle's manifest so that `artifacts` lists `digests` (path → digest), in
/// `order` when given, else sorted by path.
func relist(_ directory: String, _ digests: [String: String], order: [String]? = nil) throws {
    let path = directory + "/manifest.json"
    var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    manifest["artifacts"] = (order ?? digests.keys.sorted()).map { ["path": $0, "sha256": digests[$0] ?? ""] }
    try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
}
