import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import PluginLoader
import Testing

/// The checks a bundle passes before any of its code is loaded, each refusal with its code and a
/// message that names what is wrong.
///
/// Tests run as root, so the permission checks are exercised on mode bits only.
struct BundleVerifierTests {
    // MARK: A good bundle

    @Test func goodEchoBundleVerifies() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let verified = try BundleVerifier().verify(bundleAt: directory)
        let root = try #require(realPath(directory))
        #expect(verified.directory == root)
        #expect(verified.libraryPath == root + "/libEchoPlugin.so")
        #expect(verified.manifest.name == "echo")
        #expect(verified.manifest.version == SemanticVersion(major: 1, minor: 0, patch: 0))
    }

    // MARK: Manifest

    @Test(arguments: ManifestDamage.allCases)
    func invalidManifestIsRefused(damage: ManifestDamage) throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        try damage.apply(to: directory)
        let error = try #require(verificationError(directory))
        #expect(error.code == .invalidManifest)
        #expect(error.bundle == directory)
        for fragment in damage.expectedFragments {
            #expect(error.message.contains(fragment), "\(error.message) should contain \(fragment)")
        }
    }

    @Test func missingBundleDirectoryIsRefused() throws {
        let models = try ModelsDirectory()
        let error = try #require(verificationError(models.path + "/echo/1.0.0"))
        #expect(error.code == .invalidManifest)
        #expect(error.message.contains("does not exist"))
    }

    // MARK: Layout

    @Test(arguments: [
        ("echo", "2.0.0", ".../echo/2.0.0/"),
        ("other", "1.0.0", ".../other/1.0.0/"),
    ])
    func bundleInTheWrongFoldersIsRefused(nameFolder: String, versionFolder: String, wrongPlace: String) throws {
        let models = try ModelsDirectory()
        let original = try models.addExample("echo")
        let moved = models.path + "/" + nameFolder + "/" + versionFolder
        try FileManager.default.createDirectory(atPath: models.path + "/" + nameFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try FileManager.default.moveItem(atPath: original, toPath: moved)

        let error = try #require(verificationError(moved))
        #expect(error.code == .layoutMismatch)
        #expect(error.message.contains("describes echo 1.0.0"))
        #expect(error.message.contains("<models>/echo/1.0.0/"))
        #expect(error.message.contains(wrongPlace))
    }

    // MARK: Library

    @Test func missingLibraryIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        try FileManager.default.removeItem(atPath: directory + "/libEchoPlugin.so")
        let error = try #require(verificationError(directory))
        #expect(error.code == .libraryMissing)
        #expect(error.message.contains("\"libEchoPlugin.so\""))
    }

    @Test func libraryThatIsASymlinkOutOfTheBundleIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let outside = try TestPaths.builtLibrary("libEchoPlugin.so")
        let library = directory + "/libEchoPlugin.so"
        try FileManager.default.removeItem(atPath: library)
        try FileManager.default.createSymbolicLink(atPath: library, withDestinationPath: outside)

        let error = try #require(verificationError(directory))
        #expect(error.code == .pathEscape)
        #expect(error.message.contains("outside the bundle"))
        #expect(error.message.contains(try #require(realPath(outside))))
    }

    // MARK: Checksum

    @Test func checksumOfOtherBytesIsRefused() throws {
        let models = try ModelsDirectory()
        let otherDigest = SHA256.hexDigest(of: Array("not the library".utf8))
        let directory = try models.addBundle(
            manifest: ModelsDirectory.exampleManifest("echo"),
            library: TestPaths.builtLibrary("libEchoPlugin.so"),
            sha256: otherDigest
        )
        let actualDigest = try SHA256.hexDigest(ofFileAt: directory + "/libEchoPlugin.so")

        let error = try #require(verificationError(directory))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains(otherDigest))
        #expect(error.message.contains(actualDigest))
    }

    @Test func emptyChecksumIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try models.addBundle(
            manifest: ModelsDirectory.exampleManifest("echo"),
            library: TestPaths.builtLibrary("libEchoPlugin.so"),
            sha256: ""
        )
        let error = try #require(verificationError(directory))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("sha256 is empty"))
    }

    // MARK: Permissions

    @Test func theModelsDirectoryAboveASymlinkedBundleIsTheOneChecked() throws {
        // The bundle folder is a link into a store: the folders checked are those the path as
        // given goes through, since whoever can write them can repoint the link.
        let models = try ModelsDirectory()
        let store = try ModelsDirectory()
        let stored = try store.addExample("echo")
        try FileManager.default.createDirectory(atPath: models.path + "/echo", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let linked = models.path + "/echo/1.0.0"
        try FileManager.default.createSymbolicLink(atPath: linked, withDestinationPath: stored)
        #expect(verificationError(linked) == nil)

        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: models.path + "/echo")
        let error = try #require(verificationError(linked))
        #expect(error.code == .insecurePermissions)
        #expect(error.message.contains("the model directory is writable by group or others (mode 777)"))
    }

    @Test(arguments: [
        ("../..", "models directory", "775"),
        ("../..", "models directory", "757"),
        ("..", "model directory", "775"),
        ("..", "model directory", "757"),
        ("", "bundle directory", "775"),
        ("", "bundle directory", "757"),
        ("libEchoPlugin.so", "library", "775"),
        ("libEchoPlugin.so", "library", "757"),
        ("manifest.json", "manifest", "664"),
        ("manifest.json", "manifest", "646"),
    ])
    func writableByGroupOrOthersIsRefused(file: String, what: String, octalMode: String) throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let path = file.isEmpty ? directory : directory + "/" + file
        let mode = try #require(Int(octalMode, radix: 8))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)

        let error = try #require(verificationError(directory))
        #expect(error.code == .insecurePermissions)
        #expect(error.message.contains("the \(what) is writable by group or others"))
        #expect(error.message.contains("(mode \(octalMode))"))
    }

    @Test func writableByOwnerOnlyIsAccepted() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: models.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory + "/..")
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: directory + "/manifest.json")
        #expect(verificationError(directory) == nil)
    }
}

/// One way to spoil an echo bundle's manifest, and what the refusal must name.
enum ManifestDamage: String, CaseIterable, Sendable {
    case unknownKey
    case notJSON
    case missingFile

    func apply(to directory: String) throws {
        let path = directory + "/manifest.json"
        switch self {
        case .unknownKey:
            var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] ?? [:]
            manifest["colour"] = "blue"
            try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: path))
        case .notJSON:
            try Data("name: echo\nversion: 1.0.0\n".utf8).write(to: URL(fileURLWithPath: path))
        case .missingFile:
            try FileManager.default.removeItem(atPath: path)
        }
    }

    var expectedFragments: [String] {
        switch self {
        case .unknownKey: ["colour", "unknown key"]
        case .notJSON: ["manifest.json", "not valid JSON"]
        case .missingFile: ["manifest.json", "cannot be read"]
        }
    }
}

/// The verifier's refusal of the bundle at `directory`, or `nil` when it passes.
func verificationError(_ directory: String) -> BundleError? {
    do {
        _ = try BundleVerifier().verify(bundleAt: directory)
        return nil
    } catch {
        return error
    }
}

/// `path` with every symlink resolved, or `nil` when it does not exist.
func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
