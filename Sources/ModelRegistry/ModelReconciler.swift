import Scheduler
import Synchronization

/// Keeps the registry equal to the models directory while the server runs: one loop that loads
/// what appears, reloads what changes, drains what goes, and caps the versions of a model kept
/// resident.
///
/// The loop is the only place that loads or unloads after the initial load, so two reloads never
/// interleave, whatever arrives while one runs. It learns of changes from inotify (the models
/// directory, each model folder and each bundle folder are watched; a lost event queue means a
/// full rescan) and, as a safety net, from a full rescan every ``Configuration/rescanInterval``.
///
/// A bundle is acted on only once complete: names starting with `.` are never looked at (copy
/// to a hidden name, then rename), nothing in it may change for ``Configuration/settleTime``, and
/// it must pass every check of `modelhost validate` — the verifier's first (cheap, no code
/// loaded), then the Scheduler's load, create and warmup. A bundle that fails is registered
/// failed with its reason and not tried again until it changes.
///
/// A new copy always loads and warms up while the current one serves; only then is it
/// registered, and a copy it replaces (the same version re-deployed) drains. A removed bundle
/// stops resolving at once and drains. Draining shuts the version down through the Scheduler:
/// its instance is destroyed and its threads end, which returns the plugin's own memory. The
/// library's image stays mapped — `dlclose` is never called — so a Swift plugin's code and
/// metadata stay resident until the process ends.
///
/// Start it with ``run()`` after the initial load (``ModelRepository/loadAll(onReport:)``): it
/// takes over what that load registered. End it with ``shutDown()``.
public final class ModelReconciler: Sendable {
    /// How the reconciler watches and what it keeps.
    public struct Configuration: Sendable {
        /// How long nothing in a bundle may change before it is judged: longer than the pauses
        /// of the slowest copy that writes into place. Default 500 milliseconds.
        public var settleTime: Duration = .milliseconds(500)
        /// How often the whole models directory is rescanned, to find what the watcher missed.
        /// Default 10 seconds.
        public var rescanInterval: Duration = .seconds(10)
        /// The most loaded versions of one model; past it, the oldest inactive (in version
        /// order) are unloaded. The active version and protected ones never are, so a model may
        /// stay over the limit. At least 1. Default 3.
        public var maxResidentVersions: Int = 3
        /// The time a version taken out of service (replaced, removed, unloaded) has to finish
        /// the requests it holds before it is destroyed anyway. Default 10 seconds.
        public var drainGracePeriod: Duration = .seconds(10)
        /// Whether to watch with inotify; `false` leaves the periodic rescan only (for file
        /// systems whose changes inotify does not see, such as network mounts, and for tests).
        /// Default `true`.
        public var watchesForChanges: Bool = true

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private enum Lifecycle {
        case idle
        case running(waiters: [CheckedContinuation<Void, Never>])
        case finished
    }

    private let repository: ModelRepository
    private let configuration: Configuration
    private let isProtected: @Sendable (_ name: String, _ version: String) -> Bool
    private let events: @Sendable (ReconcilerEvent) -> Void
    private let inbox = ChangeInbox()
    private let stop = StopSignal()
    private let lifecycle = Mutex(Lifecycle.idle)

    /// Creates a reconciler for the repository's models directory, registry and scheduler.
    ///
    /// - Parameters:
    ///   - repository: Whose directory is watched, and whose initial load is taken over.
    ///   - configuration: How to watch and what to keep.
    ///   - isProtected: Whether a version must stay resident whatever the cap (a pinned
    ///     version); called on the loop. Default: none is.
    ///   - events: Receives every decision, for the log; called on the loop or a drain's task.
    public init(
        repository: ModelRepository, configuration: Configuration = .init(),
        isProtected: @escaping @Sendable (_ name: String, _ version: String) -> Bool = { _, _ in false },
        events: @escaping @Sendable (ReconcilerEvent) -> Void = { _ in }
    ) {
        self.repository = repository
        self.configuration = configuration
        self.isProtected = isProtected
        self.events = events
    }

    /// Runs the loop until ``shutDown()`` (or until the calling task is cancelled): takes over
    /// the versions the registry holds, then follows the models directory.
    ///
    /// Runs once: a second call, or one after ``shutDown()``, returns at once.
    public func run() async {
        let isStarting = lifecycle.withLock { lifecycle -> Bool in
            guard case .idle = lifecycle else { return false }
            lifecycle = .running(waiters: [])
            return true
        }
        guard isStarting else { return }
        await withTaskCancellationHandler {
            let loop = ReconcileLoop(
                directory: repository.configuration.directory, configuration: configuration,
                registry: repository.registry, scheduler: repository.scheduler,
                isProtected: isProtected, events: events, inbox: inbox, stop: stop
            )
            await loop.run(adopting: await repository.loadedFingerprints)
        } onCancel: {
            stopLoop()
        }
        let waiters = lifecycle.withLock { lifecycle -> [CheckedContinuation<Void, Never>] in
            defer { lifecycle = .finished }
            if case .running(let waiters) = lifecycle { return waiters }
            return []
        }
        waiters.forEach { $0.resume() }
    }

    /// Stops the loop and waits until it has stopped: the watcher's descriptor is closed and the
    /// timers are gone. A load under way is not waited for: it finishes (or times out) on its
    /// own threads and is never registered; `Scheduler.shutDownAll` destroys it. Versions
    /// already draining go on draining, within their grace period.
    public func shutDown() async {
        stopLoop()
        await withCheckedContinuation { continuation in
            let isFinished = lifecycle.withLock { lifecycle -> Bool in
                switch lifecycle {
                case .idle:
                    lifecycle = .finished
                    return true
                case .running(var waiters):
                    waiters.append(continuation)
                    lifecycle = .running(waiters: waiters)
                    return false
                case .finished:
                    return true
                }
            }
            if isFinished { continuation.resume() }
        }
    }

    private func stopLoop() {
        stop.stop()
        inbox.close()
    }
}
