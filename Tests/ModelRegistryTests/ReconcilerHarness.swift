import Foundation
import ModelHostTestKit
import ModelRegistry
import PluginLoader
import Scheduler

/// A models directory, its initial load and a running ``ModelReconciler``, with every event it
/// reports recorded and when.
final class ReconcilerHarness: Sendable {
    /// One event and when it arrived.
    struct Recorded: Sendable {
        var event: ReconcilerEvent
        var at: ContinuousClock.Instant
    }

    let models: ModelsDirectory
    let registry = ModelRegistry()
    let scheduler = Scheduler()
    let reconciler: ModelReconciler
    let recorded = LockedBox<[Recorded]>([])
    private let running = LockedBox<Task<Void, Never>?>(nil)

    private init(models: ModelsDirectory, configuration: ModelReconciler.Configuration, isProtected: @escaping @Sendable (String, String) -> Bool) {
        self.models = models
        let repository = ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: scheduler)
        let recorded = self.recorded
        reconciler = ModelReconciler(repository: repository, configuration: configuration, isProtected: isProtected) { event in
            recorded.withLock { $0.append(Recorded(event: event, at: .now)) }
        }
        running.withLock { $0 = Task {
            _ = try? await repository.loadAll()
            await self.reconciler.run()
        } }
    }

    /// A configuration for tests: settle 200 ms, rescans rare unless asked for.
    static func configuration(
        settle: Duration = .milliseconds(200), rescan: Duration = .seconds(60), maxResident: Int = 3, watches: Bool = true
    ) -> ModelReconciler.Configuration {
        var configuration = ModelReconciler.Configuration()
        configuration.settleTime = settle
        configuration.rescanInterval = rescan
        configuration.maxResidentVersions = maxResident
        configuration.watchesForChanges = watches
        configuration.drainGracePeriod = .seconds(5)
        return configuration
    }

    /// Loads what `models` holds, starts the reconciler and waits until it follows the
    /// directory, runs `body`, then shuts everything down
    /// (reconciler, then every version), whether `body` threw or not.
    static func with<Result: Sendable>(
        _ models: ModelsDirectory, _ configuration: ModelReconciler.Configuration = configuration(),
        isProtected: @escaping @Sendable (String, String) -> Bool = { _, _ in false },
        _ body: (ReconcilerHarness) async throws -> Result
    ) async throws -> Result {
        let harness = ReconcilerHarness(models: models, configuration: configuration, isProtected: isProtected)
        let result: Swift.Result<Result, any Error>
        do {
            // What the body changes is then the reconciler's to find, not the initial load's.
            try await harness.wait(for: "following", nil, nil)
            result = .success(try await body(harness))
        } catch {
            result = .failure(error)
        }
        await harness.reconciler.shutDown()
        await harness.running.value?.value
        _ = await harness.scheduler.shutDownAll(gracePeriod: .seconds(5))
        return try result.get()
    }

    /// The events about `name` `version` (or about the models directory, for `nil`) of kind `tag`.
    func events(_ tag: String, _ name: String?, _ version: String?) -> [Recorded] {
        recorded.value.filter { $0.event.tag == tag && $0.event.model == name && $0.event.version == version }
    }

    /// How many events of kind `tag` there were about `name` `version`.
    func count(_ tag: String, _ name: String?, _ version: String?) -> Int {
        events(tag, name, version).count
    }

    /// Waits until at least `count` events of kind `tag` about `name` `version` have arrived.
    ///
    /// - Returns: The last of them.
    @discardableResult
    func wait(for tag: String, _ name: String?, _ version: String?, count: Int = 1, within limit: Duration = .seconds(30)) async throws -> Recorded {
        do {
            try await waitUntil(limit) { self.count(tag, name, version) >= count }
        } catch {
            throw TestKitError("no \(count) \(tag) events for \(name ?? "-") \(version ?? "-") within \(limit); events: \(recorded.value.map(\.event.description))")
        }
        return events(tag, name, version)[count - 1]
    }

    /// The bundle folder of `name` `version` in the models directory.
    func directory(_ name: String, _ version: String) -> String {
        models.path + "/" + name + "/" + version
    }
}

extension ReconcilerEvent {
    /// The kind's name without its values, for matching in tests.
    var tag: String {
        switch kind {
        case .following: "following"
        case .seen: "seen"
        case .changed: "changed"
        case .waitingToSettle: "waitingToSettle"
        case .invalid: "invalid"
        case .loading: "loading"
        case .loadFailed: "loadFailed"
        case .ready: "ready"
        case .keptServing: "keptServing"
        case .replaced: "replaced"
        case .removed: "removed"
        case .unloaded: "unloaded"
        case .drained: "drained"
        case .drift: "drift"
        case .overflowed: "overflowed"
        case .watcherUnavailable: "watcherUnavailable"
        case .rescanFailed: "rescanFailed"
        }
    }

    /// The shutdown report of a `drained` event.
    var drainReport: ServingVersion.ShutdownReport? {
        if case .drained(let report) = kind { return report }
        return nil
    }

    /// The error of an `invalid` or `loadFailed` event.
    var bundleError: BundleError? {
        switch kind {
        case .invalid(let error), .loadFailed(let error): error
        default: nil
        }
    }
}

/// File operations a deployment makes, run off the cooperative threads.
enum Deploy {
    /// Renames `source` to `destination` (atomic on one file system).
    static func rename(_ source: String, to destination: String) throws {
        guard Foundation.rename(source, destination) == 0 else {
            throw TestKitError("rename \(source) -> \(destination) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Copies a bundle folder to `destination` (whose parent must exist), keeping permissions.
    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }

    /// Creates `path` and missing parents with mode 0755, which the verifier accepts.
    static func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }
}
