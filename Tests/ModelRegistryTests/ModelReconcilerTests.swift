import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelRegistry
import PluginLoader
import Scheduler
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The reconciler against real bundles of the fault plugin on disk: what it loads, when, and
/// what it drains, counted through the plugin's own create and destroy counters.
///
/// Settle times are 200 ms and waits are generous: the machine is shared and slow, and every
/// assertion about time is one-sided (never sooner than the settle time).
struct ModelReconcilerTests {
    // MARK: Complete bundles only

    @Test func aBundleCopiedSlowlyIsNeverLoadedHalfWrittenAndLoadsOnceComplete() async throws {
        let staging = try ModelsDirectory()
        let source = try FaultBundle.make("slow", in: staging)
        let manifest = try Data(contentsOf: URL(fileURLWithPath: source + "/manifest.json"))
        let library = try Data(contentsOf: URL(fileURLWithPath: source + "/" + FaultBundle.Library.plain.fileName))
        let settle = Duration.milliseconds(400)

        try await ReconcilerHarness.with(try ModelsDirectory(), ReconcilerHarness.configuration(settle: settle)) { harness in
            let bundle = harness.directory("slow", "1.0.0")
            let libraryPath = bundle + "/" + FaultBundle.Library.plain.fileName
            // The manifest (with the finished library's checksum), then the first half of the
            // library in chunks closer together than the settle time: without the settle time
            // the first event would load it; without the checks, the pause below would.
            let half = library.count / 2
            try await onThread {
                try Deploy.makeDirectory(bundle)
                try manifest.write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
                _ = FileManager.default.createFile(atPath: libraryPath, contents: nil, attributes: [.posixPermissions: 0o755])
                let file = try FileHandle(forWritingTo: URL(fileURLWithPath: libraryPath))
                defer { try? file.close() }
                for chunk in stride(from: 0, to: half, by: half / 5 + 1) {
                    try file.write(contentsOf: library[chunk..<min(half, chunk + half / 5 + 1)])
                    usleep(40_000)
                }
            }
            let pauseStarted = ContinuousClock.now
            #expect(harness.count("invalid", "slow", "1.0.0") == 0, "judged while it was being written")
            #expect(harness.count("loading", "slow", "1.0.0") == 0)

            // The pause: the half-written bundle settles and fails its checks; it is not loaded.
            let invalid = try await harness.wait(for: "invalid", "slow", "1.0.0")
            #expect(invalid.event.bundleError?.code == .checksumMismatch)
            #expect(pauseStarted.duration(to: invalid.at) >= settle - .milliseconds(50))
            #expect(harness.registry.snapshot.models["slow"]?.first?.failure?.code == .checksumMismatch)
            #expect(harness.count("loading", "slow", "1.0.0") == 0)

            try await onThread {
                let file = try FileHandle(forWritingTo: URL(fileURLWithPath: libraryPath))
                defer { try? file.close() }
                try file.seekToEnd()
                try file.write(contentsOf: library[half...])
            }
            let completed = ContinuousClock.now
            try await harness.wait(for: "ready", "slow", "1.0.0")
            #expect(harness.count("loading", "slow", "1.0.0") == 1)
            #expect(harness.events("loading", "slow", "1.0.0").first.map { $0.at > completed } == true)
            #expect(try harness.registry.resolve("slow").record.version == "1.0.0")
            #expect(try FaultCounters(bundle: bundle).creates == 1)
        }
    }

    @Test func aHiddenCopyRenamedIntoPlaceLoadsExactlyOnce() async throws {
        let staging = try ModelsDirectory()
        let source = try FaultBundle.make("renamed", in: staging)
        try await ReconcilerHarness.with(try ModelsDirectory()) { harness in
            let hidden = harness.models.path + "/renamed/.1.0.0-incoming"
            try await onThread {
                try Deploy.makeDirectory(harness.models.path + "/renamed")
                try Deploy.copy(source, to: hidden)
            }
            // Longer than the settle time: a hidden folder is never looked at.
            try await Task.sleep(for: .milliseconds(600))
            #expect(harness.recorded.value.allSatisfy { $0.event.version == nil }, "\(harness.recorded.value.map(\.event.description))")
            #expect(harness.registry.snapshot.models["renamed"] == nil)

            try await onThread { try Deploy.rename(hidden, to: harness.directory("renamed", "1.0.0")) }
            try await harness.wait(for: "ready", "renamed", "1.0.0")
            // Time for any second look to load it again.
            try await Task.sleep(for: .milliseconds(600))
            #expect(harness.count("seen", "renamed", "1.0.0") == 1)
            #expect(harness.count("loading", "renamed", "1.0.0") == 1)
            #expect(try FaultCounters(bundle: harness.directory("renamed", "1.0.0")).creates == 1)
            let input = FaultBundle.input([3])
            #expect(try await harness.registry.resolve("renamed").serving.infer([input], timeout: .seconds(5)).first?.data == input.data)
        }
    }

    // MARK: Re-deployed in place

    @Test func aBundleReplacedAtTheSamePathIsReloadedAndTheOldCopyDrained() async throws {
        let models = try ModelsDirectory()
        try FaultBundle.make("swap", in: models)
        let staging = try ModelsDirectory()
        let replacement = try FaultBundle.make("swap", config: ["counterKey": "new"], in: staging)
        try await ReconcilerHarness.with(models) { harness in
            let bundle = harness.directory("swap", "1.0.0")
            try await waitUntil(.seconds(30)) { harness.registry.snapshot.activeVersion(of: "swap") != nil }
            let old = try harness.registry.resolve("swap").serving
            let oldCounters = try FaultCounters(bundle: bundle)
            #expect(oldCounters.creates == 1)

            // Staged beside it under a hidden name, then swapped in: the folder goes and comes back.
            try await onThread {
                try Deploy.copy(replacement, to: harness.models.path + "/swap/.1.0.0-new")
                try FileManager.default.removeItem(atPath: bundle)
                try Deploy.rename(harness.models.path + "/swap/.1.0.0-new", to: bundle)
            }
            let drained = try await harness.wait(for: "drained", "swap", "1.0.0")
            let ready = harness.events("ready", "swap", "1.0.0")
            let replaced = try #require(harness.events("replaced", "swap", "1.0.0").first)
            // Load before unload: the new copy was ready and registered before the old one drained.
            #expect(ready.count == 1 && ready[0].at <= replaced.at && replaced.at <= drained.at)
            #expect(harness.count("removed", "swap", "1.0.0") == 0)
            #expect(drained.event.drainReport?.isDestroyed == true)
            #expect(oldCounters.destroys == 1)

            let current = try harness.registry.resolve("swap").serving
            #expect(current !== old)
            #expect(old.lifecycle == .retired)
            let newCounters = try FaultCounters(bundle: bundle, key: "new")
            #expect(newCounters.creates == 1)
            _ = try await current.infer([FaultBundle.input([1])], timeout: .seconds(5))
            #expect(newCounters.calls == 1)
        }
    }

    @Test func aBundleWhoseFilesChangeInPlaceIsReloaded() async throws {
        let models = try ModelsDirectory()
        let bundle = try FaultBundle.make("edited", in: models)
        try await ReconcilerHarness.with(models) { harness in
            try await waitUntil(.seconds(30)) { harness.registry.snapshot.activeVersion(of: "edited") != nil }
            let counters = try FaultCounters(bundle: bundle)
            // Rewrite the manifest in place: the new instance counts under another key.
            try await onThread {
                var manifest = FaultBundle.manifest("edited", config: ["counterKey": "edited"])
                manifest["sha256"] = try SHA256.hexDigest(ofFileAt: bundle + "/" + FaultBundle.Library.plain.fileName)
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
            }
            let drained = try await harness.wait(for: "drained", "edited", "1.0.0")
            #expect(drained.event.drainReport?.isDestroyed == true)
            #expect(harness.count("replaced", "edited", "1.0.0") == 1)
            #expect(counters.destroys == 1)
            #expect(try FaultCounters(bundle: bundle, key: "edited").creates == 1)
        }
    }

    @Test func aChangeThatFailsItsChecksLeavesTheLoadedCopyServing() async throws {
        let models = try ModelsDirectory()
        let bundle = try FaultBundle.make("kept", in: models)
        try await ReconcilerHarness.with(models) { harness in
            try await waitUntil(.seconds(30)) { harness.registry.snapshot.activeVersion(of: "kept") != nil }
            let serving = try harness.registry.resolve("kept").serving
            try await onThread {
                var manifest = FaultBundle.manifest("kept")
                manifest["sha256"] = String(repeating: "0", count: 64)
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
            }
            try await harness.wait(for: "keptServing", "kept", "1.0.0")
            #expect(harness.events("invalid", "kept", "1.0.0").first?.event.bundleError?.code == .checksumMismatch)
            #expect(try harness.registry.resolve("kept").serving === serving)
            #expect(serving.isReady)
        }
    }

    // MARK: Removal

    @Test func removingABundleDrainsItAndThePreviousVersionBecomesActive() async throws {
        let models = try ModelsDirectory()
        try FaultBundle.make("gone", in: models, version: "1.0.0")
        let newest = try FaultBundle.make("gone", in: models, version: "2.0.0")
        try await ReconcilerHarness.with(models) { harness in
            try await waitUntil(.seconds(30)) { harness.registry.snapshot.models["gone"]?.filter(\.isReady).count == 2 }
            #expect(try harness.registry.resolve("gone").record.version == "2.0.0")
            let counters = try FaultCounters(bundle: newest)

            try await onThread { try FileManager.default.removeItem(atPath: newest) }
            let drained = try await harness.wait(for: "drained", "gone", "2.0.0")
            #expect(harness.count("removed", "gone", "2.0.0") == 1)
            #expect(drained.event.drainReport?.isDestroyed == true)
            #expect(counters.destroys == 1)
            #expect(try harness.registry.resolve("gone").record.version == "1.0.0")
            #expect(harness.registry.snapshot.models["gone"]?.map(\.version) == ["1.0.0"])
            #expect(throws: ModelHostError.self) { try harness.registry.resolve("gone", version: "2.0.0") }
        }
    }

    // MARK: Bad bundles

    @Test func aBadBundleIsReportedOnceWithItsReasonAndRetriedWhenItChanges() async throws {
        let staging = try ModelsDirectory()
        let source = try FaultBundle.make("bad", in: staging)
        // Rescans every 200 ms: a bundle retried on every look would be judged several times.
        try await ReconcilerHarness.with(try ModelsDirectory(), ReconcilerHarness.configuration(rescan: .milliseconds(200))) { harness in
            let bundle = harness.directory("bad", "1.0.0")
            try await onThread {
                try Deploy.makeDirectory(harness.models.path + "/bad")
                try Deploy.copy(source, to: harness.models.path + "/bad/.staging")
                var manifest = FaultBundle.manifest("bad")
                manifest["sha256"] = String(repeating: "0", count: 64)
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: harness.models.path + "/bad/.staging/manifest.json"))
                try Deploy.rename(harness.models.path + "/bad/.staging", to: bundle)
            }
            let invalid = try await harness.wait(for: "invalid", "bad", "1.0.0")
            #expect(invalid.event.bundleError?.code == .checksumMismatch)
            let record = try #require(harness.registry.snapshot.models["bad"]?.first)
            #expect(record.failure?.code == .checksumMismatch)
            #expect(record.failure?.message.contains("the manifest says 000") == true)

            try await Task.sleep(for: .seconds(1.2))
            #expect(harness.count("invalid", "bad", "1.0.0") == 1)
            #expect(harness.count("loading", "bad", "1.0.0") == 0)

            // Fixed: the right checksum is written in place.
            try await onThread {
                var manifest = FaultBundle.manifest("bad")
                manifest["sha256"] = try SHA256.hexDigest(ofFileAt: bundle + "/" + FaultBundle.Library.plain.fileName)
                try JSONSerialization.data(withJSONObject: manifest).write(to: URL(fileURLWithPath: bundle + "/manifest.json"))
            }
            try await harness.wait(for: "ready", "bad", "1.0.0")
            #expect(harness.count("invalid", "bad", "1.0.0") == 1)
            #expect(try harness.registry.resolve("bad").record.isReady)
        }
    }

    @Test func aBundleWhoseCreateFailsIsRegisteredFailedAndNotRetried() async throws {
        let staging = try ModelsDirectory()
        let source = try FaultBundle.make("broken", config: ["failCreate": "internal"], in: staging)
        try await ReconcilerHarness.with(try ModelsDirectory(), ReconcilerHarness.configuration(rescan: .milliseconds(200))) { harness in
            try await onThread {
                try Deploy.makeDirectory(harness.models.path + "/broken")
                try Deploy.rename(source, to: harness.directory("broken", "1.0.0"))
            }
            let failed = try await harness.wait(for: "loadFailed", "broken", "1.0.0")
            #expect(failed.event.bundleError?.code == .createFailed)
            #expect(harness.registry.snapshot.models["broken"]?.first?.failure?.code == .createFailed)
            try await Task.sleep(for: .seconds(1))
            #expect(harness.count("loading", "broken", "1.0.0") == 1)
        }
    }

    // MARK: Safety net

    @Test func withoutTheWatcherThePeriodicRescanFindsNewAndRemovedBundles() async throws {
        let staging = try ModelsDirectory()
        try FaultBundle.make("rescanned", in: staging)
        let configuration = ReconcilerHarness.configuration(rescan: .milliseconds(300), watches: false)
        try await ReconcilerHarness.with(try ModelsDirectory(), configuration) { harness in
            try await onThread { try Deploy.rename(staging.path + "/rescanned", to: harness.models.path + "/rescanned") }
            try await harness.wait(for: "ready", "rescanned", "1.0.0")
            #expect(harness.count("drift", "rescanned", "1.0.0") >= 1)
            #expect(try harness.registry.resolve("rescanned").record.version == "1.0.0")

            try await onThread { try FileManager.default.removeItem(atPath: harness.models.path + "/rescanned") }
            try await harness.wait(for: "drained", "rescanned", "1.0.0")
            #expect(harness.registry.snapshot.models["rescanned"] == nil)
        }
    }

    // MARK: The cap on resident versions

    @Test func pastTheCapTheOldestInactiveVersionIsUnloaded() async throws {
        let models = try ModelsDirectory()
        let oldest = try FaultBundle.make("capped", in: models, version: "1.0.0")
        try FaultBundle.make("capped", in: models, version: "2.0.0")
        let staging = try ModelsDirectory()
        let newest = try FaultBundle.make("capped", in: staging, version: "3.0.0")
        try await ReconcilerHarness.with(models, ReconcilerHarness.configuration(maxResident: 2)) { harness in
            try await waitUntil(.seconds(30)) { harness.registry.snapshot.models["capped"]?.filter(\.isReady).count == 2 }
            let counters = try FaultCounters(bundle: oldest)

            try await onThread { try Deploy.rename(newest, to: harness.directory("capped", "3.0.0")) }
            let drained = try await harness.wait(for: "drained", "capped", "1.0.0")
            #expect(harness.count("unloaded", "capped", "1.0.0") == 1)
            #expect(drained.event.drainReport?.isDestroyed == true)
            #expect(counters.destroys == 1)
            #expect(harness.registry.snapshot.models["capped"]?.map(\.version) == ["2.0.0", "3.0.0"])
            #expect(try harness.registry.resolve("capped").record.version == "3.0.0")
            // Still on disk, it is not loaded again until it changes.
            try await Task.sleep(for: .milliseconds(600))
            #expect(harness.count("loading", "capped", "1.0.0") == 0)
        }
    }

    @Test func theCapNeverUnloadsTheActiveOrAProtectedVersion() async throws {
        let models = try ModelsDirectory()
        for version in ["1.0.0", "2.0.0", "3.0.0"] { try FaultBundle.make("pinned", in: models, version: version) }
        let staging = try ModelsDirectory()
        let newest = try FaultBundle.make("pinned", in: staging, version: "4.0.0")
        // Cap 1, 1.0.0 pinned: after the initial load 2.0.0 goes (3.0.0 is active); when 4.0.0
        // is ready, 3.0.0 goes.
        let configuration = ReconcilerHarness.configuration(maxResident: 1)
        try await ReconcilerHarness.with(models, configuration, isProtected: { $1 == "1.0.0" }) { harness in
            try await harness.wait(for: "drained", "pinned", "2.0.0")
            #expect(harness.registry.snapshot.models["pinned"]?.map(\.version) == ["1.0.0", "3.0.0"])
            #expect(try harness.registry.resolve("pinned").record.version == "3.0.0")

            try await onThread { try Deploy.rename(newest, to: harness.directory("pinned", "4.0.0")) }
            try await harness.wait(for: "drained", "pinned", "3.0.0")
            #expect(harness.registry.snapshot.models["pinned"]?.map(\.version) == ["1.0.0", "4.0.0"])
            #expect(try harness.registry.resolve("pinned").record.version == "4.0.0")
            #expect(harness.count("unloaded", "pinned", "1.0.0") == 0)
            #expect(harness.count("unloaded", "pinned", "4.0.0") == 0)
        }
    }

    // MARK: Lifecycle

    @Test func shutDownBeforeRunMakesRunReturnAtOnce() async throws {
        let models = try ModelsDirectory()
        let repository = ModelRepository(configuration: .init(directory: models.path), registry: ModelRegistry(), scheduler: Scheduler())
        let reconciler = ModelReconciler(repository: repository)
        await reconciler.shutDown()
        await reconciler.run()
        await reconciler.shutDown()
    }

    @Test func aMissingModelsDirectoryIsReportedAndPickedUpWhenItAppears() async throws {
        let parent = try ModelsDirectory()
        let staging = try ModelsDirectory()
        try FaultBundle.make("late", in: staging)
        let path = parent.path + "/models"
        let scheduler = Scheduler()
        let repository = ModelRepository(configuration: .init(directory: path), registry: ModelRegistry(), scheduler: scheduler)
        let events = LockedBox<[String]>([])
        var configuration = ReconcilerHarness.configuration(rescan: .milliseconds(300))
        configuration.watchesForChanges = true
        let reconciler = ModelReconciler(repository: repository, configuration: configuration, events: { event in
            events.withLock { $0.append("\(event.model ?? "-") \(event.tag)") }
        })
        let running = Task { await reconciler.run() }
        do {
            try await waitUntil(.seconds(30)) { events.value.contains("- rescanFailed") }
            try await onThread { try Deploy.rename(staging.path, to: path) }
            try await waitUntil(.seconds(30)) { events.value.contains("late ready") }
        } catch {
            Issue.record("\(error): \(events.value)")
        }
        await reconciler.shutDown()
        await running.value
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }
}
