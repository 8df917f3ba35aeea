import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import ModelRegistry
import Scheduler
import Testing

/// The watch on real versions: a new version that fails in its watch is rolled back by itself.
struct RolloutWatcherTests {
    /// Echo 1.0.0 loaded and established, the watcher having looked once.
    private func serving() async throws -> (ModelsDirectory, ModelRegistry, Scheduler, RolloutWatcher) {
        let models = try ModelsDirectory()
        try FaultBundle.make("m", config: [:], in: models, version: "1.0.0")
        let registry = ModelRegistry()
        let scheduler = Scheduler()
        try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: scheduler).loadAll()
        let watcher = RolloutWatcher(registry: registry)
        #expect(await watcher.look(now: .now).isEmpty)
        return (models, registry, scheduler, watcher)
    }

    /// Adds and loads version `version` failing every call, with `rollout`, as the directory
    /// watcher would.
    private func addFailing(_ version: String, rollout: [String: Any], to models: ModelsDirectory, registry: ModelRegistry, scheduler: Scheduler) async throws -> ServingVersion {
        let directory = try FaultBundle.make(
            "m", config: ["mode": "fail", "failWith": "internal"], in: models, version: version,
            breaker: ["consecutiveFailures": 3], retry: ["maxAttempts": 1]
        )
        let manifestPath = directory + "/manifest.json"
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath))) as! [String: Any]
        manifest["rollout"] = rollout
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: manifestPath))
        let loaded = try await scheduler.load(bundleAt: directory, name: "m", version: version).get()
        registry.register(ModelVersionRecord(name: "m", version: version, directory: directory, manifest: loaded.manifest, state: .ready(loaded.serving, loaded.validator)))
        return loaded.serving
    }

    private func fail(_ serving: ServingVersion, times: Int) async {
        for _ in 0..<times { _ = try? await serving.infer([FaultBundle.input([1])], timeout: .seconds(5)) }
    }

    @Test func anAutoVersionWhoseBreakerOpensInItsWatchIsRolledBack() async throws {
        let (models, registry, scheduler, watcher) = try await serving()
        let new = try await addFailing("1.1.0", rollout: ["mode": "auto"], to: models, registry: registry, scheduler: scheduler)
        #expect(registry.snapshot.activeVersion(of: "m")?.version == "1.1.0")
        #expect(await watcher.look(now: .now).isEmpty)
        await fail(new, times: 3)
        let changes = await watcher.look(now: .now)
        #expect(changes == ["1.0.0 is active (was 1.1.0, now rolled-back: its breaker opened during its watch)"])
        #expect(registry.snapshot.activeVersion(of: "m")?.version == "1.0.0")
        #expect(registry.snapshot.rollouts["m"]?.rolledBack["1.1.0"] != nil)
        #expect(try registry.resolve("m").record.version == "1.0.0")
        // Asked for by name, it still answers.
        #expect(try registry.resolve("m", version: "1.1.0").record.version == "1.1.0")
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func aFailingCanaryIsRolledBackAndAHealthyOneIsPromoted() async throws {
        let (models, registry, scheduler, watcher) = try await serving()
        let canary = try await addFailing("1.1.0", rollout: ["mode": "canary", "percent": 50, "minimumRequests": 2, "maxErrorRate": 0.5], to: models, registry: registry, scheduler: scheduler)
        #expect(registry.snapshot.rollouts["m"]?.canary?.version == "1.1.0")
        _ = await watcher.look(now: .now)
        await fail(canary, times: 2)
        #expect(await watcher.look(now: .now) == ["canary 1.1.0 rolled back: error ratio 1.0 over 2 requests passed rollout.maxErrorRate 0.5 during its watch"])
        #expect(registry.snapshot.rollouts["m"]?.canary == nil)

        // A healthy canary whose watch has ended becomes active.
        let directory = try FaultBundle.make("m", config: [:], in: models, version: "1.2.0")
        let manifestPath = directory + "/manifest.json"
        var manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: manifestPath))) as! [String: Any]
        manifest["rollout"] = ["mode": "canary", "watchMs": 0]
        try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: manifestPath))
        let loaded = try await scheduler.load(bundleAt: directory, name: "m", version: "1.2.0").get()
        registry.register(ModelVersionRecord(name: "m", version: "1.2.0", directory: directory, manifest: loaded.manifest, state: .ready(loaded.serving, loaded.validator)))
        #expect(await watcher.look(now: .now) == ["1.2.0 is active (was 1.0.0)"])
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }
}
