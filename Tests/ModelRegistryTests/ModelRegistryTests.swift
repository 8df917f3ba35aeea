import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import ModelRegistry
import Scheduler
import PluginLoader
import Testing

/// The registry and the repository that fills it, with real echo bundles on disk.
struct ModelRegistryTests {
    // MARK: Several versions of one model

    /// Echo at 1.0.0, 1.2.0 and 1.10.0, and a 2.0.0 whose checksum is wrong.
    private static func makeEchoVersions() throws -> ModelsDirectory {
        let models = try ModelsDirectory()
        for version in ["1.0.0", "1.2.0", "1.10.0"] {
            try models.addExample("echo", version: version)
        }
        var broken = try ModelsDirectory.exampleManifest("echo")
        broken["version"] = "2.0.0"
        try models.addBundle(
            manifest: broken, library: TestPaths.builtLibrary("libEchoPlugin.so"),
            sha256: SHA256.hexDigest(of: Array("other bytes".utf8))
        )
        return models
    }

    @Test func loadAllRegistersEveryVersionReadyOrFailed() async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        let reports = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        #expect(reports.count == 4)
        let versions = try #require(registry.snapshot.models["echo"])
        #expect(versions.map(\.version) == ["1.0.0", "1.2.0", "1.10.0", "2.0.0"])
        #expect(versions.map(\.isReady) == [true, true, true, false])
        #expect(versions.last?.failure?.code == .checksumMismatch)
        #expect(versions.last?.manifest?.version.description == "2.0.0")
        #expect(registry.snapshot.activeVersion(of: "echo")?.version == "1.10.0")
        #expect(registry.snapshot.isEveryModelReady)
    }

    @Test func aRemovedVersionNoLongerResolvesAndTheNextHighestIsActive() async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        let removed = registry.remove(name: "echo", version: "1.10.0")
        #expect(removed?.version == "1.10.0")
        #expect(registry.remove(name: "echo", version: "1.10.0") == nil)
        #expect(try registry.resolve("echo").record.version == "1.2.0")
        #expect(throws: ModelHostError.self) { try registry.resolve("echo", version: "1.10.0") }
    }

    @Test func resolvePicksTheHighestReadyVersion() async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        let resolution = try registry.resolve("echo")
        #expect(resolution.record.version == "1.10.0")
        #expect(resolution.manifest.version.description == "1.10.0")
        #expect(resolution.serving.version == "1.10.0")
        let input = try Tensor(name: "input0", datatype: .fp32, shape: [1], data: [0, 0, 0x80, 0x3F])
        #expect(try await resolution.serving.infer([input], timeout: .seconds(5)) == [input])
    }

    @Test(arguments: ["1.0.0", "1.2.0", "1.10.0"])
    func resolveByVersionPicksThatVersion(version: String) async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        let resolution = try registry.resolve("echo", version: version)
        #expect(resolution.record.version == version)
        #expect(resolution.serving.version == version)
    }

    @Test func resolvingTheBrokenVersionNamesWhyItIsNotReady() async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        let error = try #require(resolveError(registry, "echo", version: "2.0.0"))
        #expect(error.code == .modelNotReady)
        #expect(error.modelVersion == "2.0.0")
        #expect(error.message.contains("version 2.0.0 is not ready"))
        #expect(error.message.contains("checksum_mismatch"))
    }

    @Test(arguments: [("nope", nil), ("echo", "9.9.9"), ("echo", "1.10")] as [(String, String?)])
    func unknownModelOrVersionIsNotFound(name: String, version: String?) async throws {
        let models = try Self.makeEchoVersions()
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        let error = try #require(resolveError(registry, name, version: version))
        #expect(error.code == .modelNotFound)
        #expect(error.message.contains("\"\(name)\""))
        if let version {
            #expect(error.message.contains("no version \"\(version)\""))
            #expect(error.message.contains("known: 1.0.0, 1.2.0, 1.10.0, 2.0.0"))
        }
    }

    // MARK: Several models

    @Test func aBadBundleDoesNotStopAGoodOne() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        // "alpha" is a copy of echo whose manifest has a key the host does not know.
        try models.addExample("echo") {
            $0["name"] = "alpha"
            $0["colour"] = "blue"
        }
        let registry = ModelRegistry()
        let reports = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        #expect(reports.map(\.record.name) == ["alpha", "echo"])
        #expect(reports.map(\.record.isReady) == [false, true])
        #expect(reports.first?.record.failure?.code == .invalidManifest)
        #expect(reports.first?.record.manifest == nil)
        #expect(try registry.resolve("echo").record.version == "1.0.0")
        #expect(resolveError(registry, "alpha")?.code == .modelNotReady)
        #expect(!registry.snapshot.isEveryModelReady)
    }

    @Test func hiddenFoldersAndStrayFilesAreIgnored() async throws {
        let models = try ModelsDirectory()
        let bundle = try models.addExample("echo")
        let files = FileManager.default
        // A copy in progress, hidden at both levels, and files where folders are expected.
        try files.createDirectory(atPath: models.path + "/.staging/echo", withIntermediateDirectories: true)
        try files.copyItem(atPath: bundle, toPath: models.path + "/.staging/echo/1.0.0")
        try files.copyItem(atPath: bundle, toPath: models.path + "/echo/.1.1.0-partial")
        try Data("notes".utf8).write(to: URL(fileURLWithPath: models.path + "/README.txt"))
        try Data("notes".utf8).write(to: URL(fileURLWithPath: models.path + "/echo/NOTES.txt"))

        let registry = ModelRegistry()
        let reports = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        #expect(reports.map { "\($0.record.name)/\($0.record.version)" } == ["echo/1.0.0"])
        #expect(Array(registry.snapshot.models.keys) == ["echo"])
        #expect(registry.snapshot.isEveryModelReady)
    }

    @Test func emptyModelsDirectoryLoadsNothing() async throws {
        let models = try ModelsDirectory()
        let registry = ModelRegistry()
        let reports = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        #expect(reports.isEmpty)
        #expect(registry.snapshot.models.isEmpty)
        #expect(!registry.snapshot.isEveryModelReady)
    }

    @Test func missingModelsDirectoryThrows() async throws {
        let models = try ModelsDirectory()
        let missing = models.path + "/absent"
        let repository = ModelRepository(configuration: .init(directory: missing), registry: ModelRegistry(), scheduler: Scheduler())
        let error = await #expect(throws: ModelHostError.self) { try await repository.loadAll() }
        #expect(error?.code == .internal)
        #expect(error?.message.contains(missing) == true)
    }

    // MARK: Version order

    @Test func releaseOutranksItsPreRelease() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo", version: "1.0.0-rc.1")
        try models.addExample("echo", version: "1.0.0")
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        #expect(registry.snapshot.models["echo"]?.map(\.version) == ["1.0.0-rc.1", "1.0.0"])
        #expect(try registry.resolve("echo").record.version == "1.0.0")
        #expect(try registry.resolve("echo", version: "1.0.0-rc.1").record.version == "1.0.0-rc.1")
    }

    @Test func versionsAreKeptInSemanticVersionOrder() {
        let registry = ModelRegistry()
        let shuffled = ["1.10.0", "latest", "1.0.0", "1.0.0-rc.10", "2.0.0", "1.0.0-rc.2", "1.2.0", "1.0.0-alpha", "1.0.0-rc.1"]
        for version in shuffled {
            registry.register(Self.failedRecord("m", version))
        }
        #expect(registry.snapshot.models["m"]?.map(\.version) == [
            "1.0.0-alpha", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0", "1.2.0", "1.10.0", "2.0.0", "latest",
        ])
    }

    // MARK: Registry without I/O

    @Test func registeringTheSameVersionReplacesIt() throws {
        let registry = ModelRegistry()
        registry.register(Self.failedRecord("m", "1.0.0", code: .loadFailed))
        registry.register(Self.failedRecord("m", "1.0.0", code: .warmupFailed))
        let versions = try #require(registry.snapshot.models["m"])
        #expect(versions.count == 1)
        #expect(versions.first?.failure?.code == .warmupFailed)
        #expect(resolveError(registry, "m", version: "1.0.0")?.message.contains("warmup_failed") == true)
    }

    @Test func modelWithNoReadyVersionIsNotReady() {
        let registry = ModelRegistry()
        #expect(!registry.snapshot.isEveryModelReady)
        registry.register(Self.failedRecord("m", "1.0.0"))
        #expect(!registry.snapshot.isEveryModelReady)
        #expect(registry.snapshot.activeVersion(of: "m") == nil)
        let error = resolveError(registry, "m")
        #expect(error?.code == .modelNotReady)
        #expect(error?.message.contains("no ready version") == true)
    }

    private static func failedRecord(_ name: String, _ version: String, code: BundleError.Code = .checksumMismatch) -> ModelVersionRecord {
        ModelVersionRecord(
            name: name, version: version, directory: "/models/\(name)/\(version)", manifest: nil,
            state: .failed(BundleError(code, bundle: "/models/\(name)/\(version)", "refused in a test"))
        )
    }
}

/// The error `resolve` ends in, or `nil` when it succeeds.
private func resolveError(_ registry: ModelRegistry, _ name: String, version: String? = nil) -> ModelHostError? {
    do {
        _ = try registry.resolve(name, version: version)
        return nil
    } catch {
        return error
    }
}
