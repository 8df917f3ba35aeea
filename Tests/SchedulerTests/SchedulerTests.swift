import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import PluginLoader
import Testing

@testable import Scheduler

/// The control plane: loading under a timeout, and shutting every version down.
@Suite struct SchedulerTests {
    @Test func aCreateThatHangsTimesOutAloneAndIsDestroyedIfItEverReturns() async throws {
        let (prelude, wait) = FixtureSource.gate(seconds: 20)
        let hangs = FixtureSource.make(prelude: prelude, create: wait + " *out_instance = &fixture_token; return MH_OK;")
        let models = try ModelsDirectory()
        let hungDirectory = try await FixtureBundle.make("create-hangs", source: hangs, in: models)
        let fineDirectory = try await FixtureBundle.make("fine", source: FixtureSource.make(infer: FixtureSource.echo), in: models)
        var configuration = Scheduler.Configuration()
        configuration.loadTimeout = .seconds(2)
        let events = ServingVersionTests.EventBox()
        let scheduler = Scheduler(configuration: configuration) { events.append($0) }

        let started = ContinuousClock.now
        let hung = Task { await scheduler.load(bundleAt: hungDirectory, name: "create-hangs", version: "1.0.0") }
        try await waitUntil { (try? FixtureBundle.thread(2, inLibrary: hungDirectory + "/libcreate-hangs.so")) ?? 0 != 0 }
        // Another version loads and serves while the first hangs in create.
        let fine = try await scheduler.load(bundleAt: fineDirectory, name: "fine", version: "1.0.0").get()
        let outputs = try await fine.serving.infer([FixtureBundle.input(2)], timeout: .seconds(5))
        #expect(outputs.first?.data == floatBytes([2]))
        #expect(events.events.isEmpty, "the hung load ended before the other version served")

        let outcome = await hung.value
        let elapsed = ContinuousClock.now - started
        guard case .failure(let error) = outcome else {
            Issue.record("a hung create loaded")
            return
        }
        #expect(error.code == .loadTimedOut)
        #expect(error.message.contains("did not finish within 2000 ms"))
        #expect(elapsed >= .seconds(2) && elapsed < .seconds(15), "\(elapsed)")
        #expect(events.events.contains { $0.model == "create-hangs" && $0.kind == .loadTimedOut(timeout: .seconds(2)) })

        // The abandoned thread comes back: what it made is destroyed, and it never serves.
        let library = hungDirectory + "/libcreate-hangs.so"
        try FixtureBundle.function("fixture_open_gate", inLibrary: library)()
        let destroys = try FixtureBundle.counter("fixture_destroys", inLibrary: library)
        try await waitUntil { destroys() == 1 }
        try await waitUntil { events.events.contains { $0.model == "create-hangs" && $0.kind == .lateLoadDiscarded } }

        let reports = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        #expect(reports.map(\.model) == ["fine"])
        #expect(reports.allSatisfy { $0.isDestroyed })
    }

    @Test func aManifestMayAskForALongerLoadTimeout() async throws {
        let slowCreate = FixtureSource.make(create: "usleep(300000); *out_instance = &fixture_token; return MH_OK;")
        let models = try ModelsDirectory()
        let directory = try await FixtureBundle.make("slow-create", source: slowCreate, in: models, limits: ["loadTimeoutMs": 5000])
        var configuration = Scheduler.Configuration()
        configuration.loadTimeout = .milliseconds(100)
        let scheduler = Scheduler(configuration: configuration)
        let loaded = try await scheduler.load(bundleAt: directory, name: "slow-create", version: "1.0.0").get()
        #expect(loaded.serving.isReady)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    @Test func shuttingDownAllReportsEveryVersionAndRefusesLaterLoads() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        var versions: [ServingVersion] = []
        for name in ["first", "second"] {
            let directory = try await FixtureBundle.make(name, source: FixtureSource.make(infer: FixtureSource.echo), in: models)
            versions.append(try await scheduler.load(bundleAt: directory, name: name, version: "1.0.0").get().serving)
        }
        let reports = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        #expect(reports.map(\.model) == ["first", "second"])
        #expect(reports.allSatisfy { $0.isDestroyed && $0.stillRunning == 0 })
        #expect(versions.allSatisfy { $0.lifecycle == .retired })

        let late = try await FixtureBundle.make("late", source: FixtureSource.make(), in: models)
        guard case .failure(let error) = await scheduler.load(bundleAt: late, name: "late", version: "1.0.0") else {
            Issue.record("a load after shutdown succeeded")
            return
        }
        #expect(error.message.contains("shutting down"))
    }

    @Test func theConfiguredLibraryCacheIsWhereVersionsAreMappedFrom() async throws {
        let models = try ModelsDirectory()
        let directory = try await FixtureBundle.make("cached", source: FixtureSource.make(infer: FixtureSource.echo), in: models)
        var configuration = Scheduler.Configuration()
        configuration.libraryCache = models.path + "/.modelhost/libs"
        let scheduler = Scheduler(configuration: configuration)
        let loaded = try await scheduler.load(bundleAt: directory, name: "cached", version: "1.0.0").get()
        let copy = models.path + "/.modelhost/libs/\(loaded.manifest.sha256).so"
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: copy)() == 1)
        #expect((try? FixtureBundle.counter("fixture_creates", inLibrary: directory + "/libcached.so")) == nil, "the bundle's own file is never mapped")
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    @Test func withoutALibraryCacheVersionsAreMappedFromTheirBundles() async throws {
        #expect(Scheduler.Configuration().libraryCache == nil)
        let models = try ModelsDirectory()
        let directory = try await FixtureBundle.make("uncached", source: FixtureSource.make(infer: FixtureSource.echo), in: models)
        let scheduler = Scheduler()
        _ = try await scheduler.load(bundleAt: directory, name: "uncached", version: "1.0.0").get()
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: directory + "/libuncached.so")() == 1)
        #expect(!FileManager.default.fileExists(atPath: models.path + "/.modelhost"))
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }
}
