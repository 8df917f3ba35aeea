import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import Testing

@testable import PluginLoader

#if canImport(Glibc)
import Glibc
#endif

/// The library cache: the loader maps a private, read-only copy named by its SHA-256, hashed
/// after it is written, never the file in the bundle.
///
/// Tests run as root, so ownership is exercised by handing the directory to another user.
struct LibraryCacheTests {
    // MARK: The copy

    @Test func theLoaderMapsAReadOnlyVerifiedCopyAndNotTheBundlesLibrary() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let cache = models.path + "/.modelhost/libs"
        let loaded = try PluginLoader(configuration: .cached(in: cache)).load(bundleAt: directory)
        defer { loaded.instance.destroy() }

        let sha256 = loaded.manifest.sha256
        let resolvedCache = try #require(realPath(cache))
        #expect(loaded.libraryPath == resolvedCache + "/\(sha256).so")
        let copy = try fileStatus(loaded.libraryPath)
        #expect(copy.st_mode & S_IFMT == S_IFREG)
        #expect(copy.st_mode & 0o7777 == 0o444)
        #expect(try SHA256.hexDigest(ofFileAt: loaded.libraryPath) == sha256)
        #expect(isMapped(loaded.libraryPath))
        #expect(!isMapped(directory + "/libEchoPlugin.so"))

        let outputs = try loaded.instance.infer([Tensor(name: "input0", datatype: .fp32, shape: [1], data: floatBytes([3]))], context: .unbounded).get()
        #expect(outputs.first?.data == floatBytes([3]))
    }

    @Test func theCacheDirectoryAndItsMissingParentsAreCreatedPrivate() throws {
        let models = try ModelsDirectory()
        let cache = models.path + "/.modelhost/libs"
        _ = try LibraryCache(directory: cache).verifiedEchoCopy()
        #expect(try fileStatus(models.path + "/.modelhost").st_mode & 0o7777 == 0o700)
        #expect(try fileStatus(cache).st_mode & 0o7777 == 0o700)
        #expect(try fileStatus(cache).st_uid == geteuid())
    }

    @Test func aGoodCopyIsReusedNotWrittenAgain() throws {
        let models = try ModelsDirectory()
        let cache = LibraryCache(directory: models.path + "/libs")
        let first = try cache.verifiedEchoCopy()
        let inode = try fileStatus(first).st_ino
        let second = try cache.verifiedEchoCopy()
        #expect(second == first)
        #expect(try fileStatus(second).st_ino == inode)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory) == [(first as NSString).lastPathComponent])
    }

    @Test(arguments: CopyDamage.allCases)
    func aDamagedCopyIsReplacedByAGoodOne(damage: CopyDamage) throws {
        let models = try ModelsDirectory()
        let cache = LibraryCache(directory: models.path + "/libs")
        let path = try cache.verifiedEchoCopy()
        let sha256 = (path as NSString).lastPathComponent.replacingOccurrences(of: ".so", with: "")
        try damage.apply(to: path, in: models)

        #expect(try cache.verifiedEchoCopy() == path)
        let copy = try fileStatus(path, following: false)
        #expect(copy.st_mode & S_IFMT == S_IFREG)
        #expect(copy.st_mode & 0o7777 == 0o444)
        #expect(copy.st_uid == geteuid())
        #expect(try SHA256.hexDigest(ofFileAt: path) == sha256)
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory) == [(path as NSString).lastPathComponent])
    }

    @Test func aCopyThatCannotBeReplacedIsAnError() throws {
        // A non-empty folder where the copy goes: nothing can be renamed over it.
        let models = try ModelsDirectory()
        let cache = LibraryCache(directory: models.path + "/libs")
        let library = try TestPaths.builtLibrary("libEchoPlugin.so")
        let sha256 = try SHA256.hexDigest(ofFileAt: library)
        try FileManager.default.createDirectory(atPath: cache.path(forSHA256: sha256) + "/inside", withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: cache.directory)

        let error = try #require(copyError(cache, library: library, sha256: sha256))
        #expect(error.code == .libraryCacheFailed)
        #expect(error.bundle == "bundle")
        #expect(error.message.contains("cannot be renamed into place"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.directory) == [sha256 + ".so"])
    }

    @Test func onlyASHA256NamesACopy() throws {
        let models = try ModelsDirectory()
        let error = try #require(copyError(LibraryCache(directory: models.path + "/libs"), library: TestPaths.builtLibrary("libEchoPlugin.so"), sha256: "../../escape"))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("is not a SHA-256"))
        #expect(!FileManager.default.fileExists(atPath: models.path + "/libs"))
    }

    // MARK: A library that changes after it was verified

    @Test func aLibrarySwappedAfterVerificationIsNeitherCopiedNorLoaded() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let cache = models.path + "/libs"
        let verified = try BundleVerifier().verify(bundleAt: directory)
        try replaceContents(of: verified.libraryPath, with: TestPaths.builtLibrary(FaultBundle.Library.plain.fileName))

        let error = try #require(loadError(PluginLoader(configuration: .cached(in: cache)), verified, directory))
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("the library changed after it was verified"))
        #expect(error.message.contains("the manifest says \(verified.manifest.sha256)"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).isEmpty)
        #expect(!isMapped(verified.libraryPath))
    }

    @Test func aLibrarySwappedAfterItsCopyDoesNotRunTheCopyDoes() async throws {
        let models = try ModelsDirectory()
        let first = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(1)), name: "swapped")
        let second = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(2)), name: "swapped")
        let directory = try models.addBundle(manifest: FixtureSource.answerManifest("swapped"), library: first)
        let verified = try BundleVerifier().verify(bundleAt: directory)
        let loader = PluginLoader(configuration: .cached(in: models.path + "/libs"))
        _ = try LibraryCache(directory: models.path + "/libs").verifiedCopy(ofLibraryAt: verified.libraryPath, sha256: verified.manifest.sha256, bundle: directory)
        try replaceContents(of: verified.libraryPath, with: second)

        let loaded = try loader.load(verified, bundleAt: directory)
        defer { loaded.instance.destroy() }
        #expect(try answer(of: loaded) == 1)
        #expect(!isMapped(verified.libraryPath))
    }

    // MARK: Deploying again at the same path

    @Test func aBundleRedeployedAtTheSamePathServesItsNewCode() async throws {
        let models = try ModelsDirectory()
        let loader = PluginLoader(configuration: .cached(in: models.path + "/.modelhost/libs"))
        let old = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(1)), name: "redeployed")
        let new = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(2)), name: "redeployed")

        let directory = try models.addBundle(manifest: FixtureSource.answerManifest("redeployed"), library: old)
        let before = try loader.load(bundleAt: directory)
        #expect(try answer(of: before) == 1)
        before.instance.destroy()

        try FileManager.default.removeItem(atPath: directory)
        #expect(try models.addBundle(manifest: FixtureSource.answerManifest("redeployed"), library: new) == directory)
        let after = try loader.load(bundleAt: directory)
        defer { after.instance.destroy() }
        #expect(try answer(of: after) == 2)
        #expect(after.libraryPath != before.libraryPath)
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: before.libraryPath)() == 1)
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: after.libraryPath)() == 1)
    }

    @Test func withoutACacheTheSamePathMapsTheImageLoadedFirst() async throws {
        // Why the cache exists: dlopen matches a path it has loaded by name, so new bytes at an
        // old path never run.
        let models = try ModelsDirectory()
        let old = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(1)), name: "stale")
        let new = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(2)), name: "stale")
        let directory = try models.addBundle(manifest: FixtureSource.answerManifest("stale"), library: old)
        let before = try PluginLoader().load(bundleAt: directory)
        before.instance.destroy()
        try FileManager.default.removeItem(atPath: directory)
        try models.addBundle(manifest: FixtureSource.answerManifest("stale"), library: new)

        let after = try PluginLoader().load(bundleAt: directory)
        defer { after.instance.destroy() }
        #expect(after.libraryPath == before.libraryPath)
        #expect(try answer(of: after) == 1)
    }

    @Test func theSameBytesInTwoBundlesAreMappedOnce() async throws {
        let models = try ModelsDirectory()
        let library = try await CFixture.compile(FixtureSource.make(infer: FixtureSource.answer(7)), name: "shared")
        let loader = PluginLoader(configuration: .cached(in: models.path + "/libs"))
        var loaded: [PluginLoader.LoadedBundle] = []
        for name in ["first", "second"] {
            var manifest = FixtureSource.answerManifest(name)
            manifest["library"] = "libshared.so"
            loaded.append(try loader.load(bundleAt: models.addBundle(manifest: manifest, library: library)))
        }
        defer { loaded.forEach { $0.instance.destroy() } }
        #expect(loaded[0].libraryPath == loaded[1].libraryPath)
        // One image: its globals count both bundles' instances.
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: loaded[0].libraryPath)() == 2)
    }

    // MARK: Who may change the cache

    @Test(arguments: ["770", "707", "777"])
    func aCacheDirectoryWritableByOthersIsRefused(octalMode: String) throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let cache = models.path + "/libs"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: false, attributes: [.posixPermissions: try #require(Int(octalMode, radix: 8))])

        let error = try #require(loadError(directory, cache: cache))
        #expect(error.code == .insecurePermissions)
        #expect(error.bundle == directory)
        let resolvedCache = try #require(realPath(cache))
        #expect(error.message.contains("the library cache \(resolvedCache) is writable by group or others (mode \(octalMode))"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).isEmpty)
    }

    @Test(.enabled(if: geteuid() == 0, "needs root to give the directory away"))
    func aCacheDirectoryOwnedByAnotherUserIsRefused() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let cache = models.path + "/libs"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try #require(chown(cache, 65534, 65534) == 0)

        let error = try #require(loadError(directory, cache: cache))
        #expect(error.code == .insecurePermissions)
        #expect(error.message.contains("is owned by user 65534, not by this process's user \(geteuid())"))
    }

    @Test func aCacheInADirectoryOthersMayWriteIsRefusedUnlessItIsSticky() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let parent = models.path + "/shared"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        try #require(chmod(parent, 0o777) == 0)

        let error = try #require(loadError(directory, cache: parent + "/libs"))
        #expect(error.code == .insecurePermissions)
        let resolvedParent = try #require(realPath(parent))
        #expect(error.message.contains("the directory \(resolvedParent) holding the library cache is writable by group or others (mode 777) without the sticky bit"))

        // Like /tmp: others may add entries but not rename or remove this user's.
        try #require(chmod(parent, 0o1777) == 0)
        #expect(loadError(directory, cache: parent + "/libs") == nil)
    }

    @Test func aCachePathThatIsAFileIsAnError() throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        let cache = models.path + "/libs"
        try Data().write(to: URL(fileURLWithPath: cache))
        let error = try #require(loadError(directory, cache: cache))
        #expect(error.code == .libraryCacheFailed)
        #expect(error.message.contains("cannot be opened"))
    }
}

// MARK: - Helpers

/// One way a copy in the cache may have gone bad since it was written.
enum CopyDamage: String, CaseIterable, Sendable {
    /// Other bytes under the same name, still read-only.
    case otherBytes
    /// The right bytes, but writable by group and others.
    case writable
    /// A symlink to a file with the right bytes.
    case symlink
    /// Cut short.
    case truncated

    func apply(to path: String, in models: ModelsDirectory) throws {
        let files = FileManager.default
        switch self {
        case .otherBytes:
            try files.removeItem(atPath: path)
            try Data("not a library".utf8).write(to: URL(fileURLWithPath: path))
            try #require(chmod(path, 0o444) == 0)
        case .writable:
            try #require(chmod(path, 0o666) == 0)
        case .symlink:
            let elsewhere = models.path + "/elsewhere.so"
            try files.copyItem(atPath: path, toPath: elsewhere)
            try files.removeItem(atPath: path)
            try files.createSymbolicLink(atPath: path, withDestinationPath: elsewhere)
        case .truncated:
            try #require(truncate(path, 100) == 0)
        }
    }
}

extension PluginLoader.Configuration {
    /// A configuration whose library cache is `directory`.
    static func cached(in directory: String) -> Self {
        var configuration = Self()
        configuration.libraryCache = directory
        return configuration
    }
}

extension LibraryCache {
    /// A copy of the built echo library, under its real digest.
    func verifiedEchoCopy() throws -> String {
        let library = try TestPaths.builtLibrary("libEchoPlugin.so")
        return try verifiedCopy(ofLibraryAt: library, sha256: SHA256.hexDigest(ofFileAt: library), bundle: "bundle")
    }
}

extension FixtureSource {
    /// An `infer` body that answers `y`, one INT32, with `value`: tells builds apart.
    static func answer(_ value: Int) -> String {
        "return fixture_write_int(sink, \"y\", \(value), error);"
    }

    /// The manifest of a fixture built with ``answer(_:)``.
    static func answerManifest(_ name: String) -> [String: Any] {
        FixtureBundle.manifest(name, outputs: [["name": "y", "datatype": "INT32", "shape": [1]]])
    }
}

/// What a fixture built with ``FixtureSource/answer(_:)`` answers.
func answer(of loaded: PluginLoader.LoadedBundle) throws -> Int32 {
    let output = try #require(try loaded.instance.infer([FixtureBundle.input()], context: .unbounded).get().first)
    return output.data.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
}

/// The refusal of copying `library` into `cache` under `sha256`, or `nil`.
func copyError(_ cache: LibraryCache, library: String, sha256: String) -> BundleError? {
    do {
        _ = try cache.verifiedCopy(ofLibraryAt: library, sha256: sha256, bundle: "bundle")
        return nil
    } catch {
        return error
    }
}

/// The refusal of loading the bundle at `directory` through a library cache, or `nil` when it
/// loads (its instance is then destroyed).
func loadError(_ directory: String, cache: String) -> BundleError? {
    do {
        try PluginLoader(configuration: .cached(in: cache)).load(bundleAt: directory).instance.destroy()
        return nil
    } catch {
        return error
    }
}

/// The refusal of loading a verified bundle, or `nil` when it loads.
func loadError(_ loader: PluginLoader, _ bundle: BundleVerifier.VerifiedBundle, _ directory: String) -> BundleError? {
    do {
        try loader.load(bundle, bundleAt: directory).instance.destroy()
        return nil
    } catch {
        return error
    }
}

/// Overwrites the file at `path` in place with the bytes of `source`, keeping its mode.
func replaceContents(of path: String, with source: String) throws {
    try Data(contentsOf: URL(fileURLWithPath: source)).write(to: URL(fileURLWithPath: path))
}

/// Whether this process has the library at `path` mapped (`dlopen` with `RTLD_NOLOAD`).
func isMapped(_ path: String) -> Bool {
    guard let handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD) else { return false }
    dlclose(handle)
    return true
}

/// `stat` (or `lstat`) of `path`.
func fileStatus(_ path: String, following: Bool = true) throws -> stat {
    var info = stat()
    let result = following ? stat(path, &info) : lstat(path, &info)
    guard result == 0 else { throw TestKitError("cannot stat \(path): \(String(cString: strerror(errno)))") }
    return info
}
