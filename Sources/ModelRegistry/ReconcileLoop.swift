import ModelManifest
import PluginLoader
import Scheduler

/// The one loop of a ``ModelReconciler``: the only code that loads, registers, removes or
/// unloads a version after the initial load.
///
/// It belongs to the task that runs ``ModelReconciler/run()`` and is never shared, so its state
/// needs no lock and its steps never interleave: a load in progress holds the loop, and whatever
/// is posted meanwhile waits in the ``ChangeInbox``.
final class ReconcileLoop {
    private let configuration: ModelReconciler.Configuration
    private let registry: ModelRegistry
    private let scheduler: Scheduler
    private let isProtected: @Sendable (_ name: String, _ version: String) -> Bool
    private let events: @Sendable (ReconcilerEvent) -> Void
    private let inbox: ChangeInbox
    private let stop: StopSignal
    private let root: String
    private let files = FileWork()
    private let clock = ContinuousClock()

    private var watcher: DirectoryWatcher?
    private var scanner: ModelsScanner
    private var machine: ModelReconciler.StateMachine<ContinuousClock.Instant>
    /// The versions this loop answers for, by bundle: what it drains when they go.
    private var resident: [BundleKey: ServingVersion] = [:]
    private var nextRescan: ContinuousClock.Instant
    private var wake: (deadline: ContinuousClock.Instant, task: Task<Void, Never>)?
    private var isDirectoryUnreadable = false
    private var reportedWatchFailures: Set<String> = []

    /// The shortest settle time used: with none, a bundle being written would be polled.
    static let minimumSettleTime: Duration = .milliseconds(10)

    /// Creates the loop; nothing happens until ``run(adopting:)``.
    init(
        directory: String, configuration: ModelReconciler.Configuration, registry: ModelRegistry, scheduler: Scheduler,
        isProtected: @escaping @Sendable (_ name: String, _ version: String) -> Bool,
        events: @escaping @Sendable (ReconcilerEvent) -> Void, inbox: ChangeInbox, stop: StopSignal
    ) {
        var root = directory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
        self.configuration = configuration
        self.registry = registry
        self.scheduler = scheduler
        self.isProtected = isProtected
        self.events = events
        self.inbox = inbox
        self.stop = stop
        self.scanner = ModelsScanner(root: root, watcher: nil)
        self.machine = .init(settleTime: max(configuration.settleTime, Self.minimumSettleTime))
        self.nextRescan = clock.now.advanced(by: configuration.rescanInterval)
    }

    /// Takes over what the registry holds, then follows the models directory until the stop
    /// signal; the watcher and timers are gone when it returns.
    ///
    /// - Parameter loaded: The fingerprint each bundle of the initial load had when it loaded.
    func run(adopting loaded: [BundleKey: BundleFingerprint]) async {
        startWatcher()
        await adopt(loaded)
        emit(nil, .following(isWatching: watcher != nil))
        var rings = inbox.rings.makeAsyncIterator()
        while !stop.isStopped {
            await pass()
            guard !stop.isStopped else { break }
            scheduleWake()
            guard await rings.next() != nil else { break }
        }
        wake?.task.cancel()
        await wake?.task.value
        await watcher?.shutDown()
    }

    // MARK: Watching and waking

    private func startWatcher() {
        guard configuration.watchesForChanges else { return }
        let (inbox, root) = (self.inbox, self.root)
        do {
            let watcher = try DirectoryWatcher(label: "modelhost.reconciler.watcher") { event in
                inbox.post { ChangeInbox.record(event, root: root, in: &$0) }
            }
            self.watcher = watcher
            scanner = ModelsScanner(root: root, watcher: watcher)
        } catch {
            emit(nil, .watcherUnavailable(reason: error.description))
        }
    }

    /// Makes sure the loop is woken at the next settle deadline or rescan, whichever is first.
    private func scheduleWake() {
        let deadline = machine.nextDeadline.map { min($0, nextRescan) } ?? nextRescan
        if let wake, wake.deadline <= deadline, wake.deadline > clock.now { return }
        wake?.task.cancel()
        let (inbox, clock) = (self.inbox, self.clock)
        wake = (deadline, Task {
            do {
                try await clock.sleep(until: deadline)
                inbox.ring()
            } catch {}
        })
    }

    // MARK: Passes

    /// The versions the initial load registered become the loop's, judged from the files they
    /// loaded; bundles that appeared since are new.
    private func adopt(_ loaded: [BundleKey: BundleFingerprint]) async {
        let (scan, reason) = await files.run { [scanner] in scanner.scanAll() }
        report(scan.watchFailures)
        if let reason { directoryUnreadable(reason) }
        var found: [BundleKey: BundleFingerprint] = [:]
        for (name, versions) in scan.value ?? [:] {
            for (version, fingerprint) in versions { found[BundleKey(name: name, version: version)] = fingerprint }
        }
        let now = clock.now
        for records in registry.snapshot.models.values {
            for record in records {
                let key = BundleKey(name: record.name, version: record.version)
                // An unreadable directory removes nothing: what loaded is taken to be there.
                let current = scan.value == nil ? loaded[key] : found[key]
                machine.adopt(key, loaded: loaded[key], current: current, at: now)
                if let serving = record.serving { resident[key] = serving }
            }
        }
        for (key, fingerprint) in found.sorted(by: { $0.key < $1.key }) where machine.entries[key] == nil {
            note(key, machine.observe(key, fingerprint, at: now))
        }
        for name in Set(resident.keys.map(\.name)).sorted() { enforceCap(of: name) }
    }

    /// Looks at what was posted (or rescans everything when due), then judges what has settled.
    private func pass() async {
        let pending = inbox.take()
        if pending.isFullRescanDue || clock.now >= nextRescan {
            if pending.didOverflow { emit(nil, .overflowed) }
            // Drift is what a periodic rescan finds that no event announced.
            let isPeriodic = !pending.isFullRescanDue
            await rescan { key in isPeriodic && !pending.models.contains(key.name) && !pending.bundles.contains(key) }
            nextRescan = clock.now.advanced(by: configuration.rescanInterval)
        } else {
            for name in pending.models.sorted() { await relist(name) }
            for key in pending.bundles.sorted() where !pending.models.contains(key.name) { await look(at: key) }
        }
        for key in machine.due(at: clock.now) {
            guard !stop.isStopped else { return }
            let scan = await files.run { [scanner] in scanner.scanBundle(key) }
            report(scan.watchFailures)
            switch machine.settle(key, scan.value, at: clock.now) {
            case .none, .wait: break
            case .consider(let fingerprint): await consider(key, fingerprint)
            case .remove: remove(key)
            }
        }
    }

    private func rescan(isDrift: (BundleKey) -> Bool) async {
        let (scan, reason) = await files.run { [scanner] in scanner.scanAll() }
        report(scan.watchFailures)
        guard let models = scan.value else {
            directoryUnreadable(reason ?? "unknown")
            return
        }
        isDirectoryUnreadable = false
        var seen: Set<BundleKey> = []
        let now = clock.now
        for (name, versions) in models.sorted(by: { $0.key < $1.key }) {
            for (version, fingerprint) in versions.sorted(by: { $0.key < $1.key }) {
                let key = BundleKey(name: name, version: version)
                seen.insert(key)
                note(key, machine.observe(key, fingerprint, at: now), isDrift: isDrift(key))
            }
        }
        for key in machine.entries.keys.sorted() where !seen.contains(key) {
            note(key, machine.observe(key, nil, at: now), isDrift: isDrift(key))
        }
    }

    private func relist(_ name: String) async {
        let scan = await files.run { [scanner] in scanner.scanModel(name) }
        report(scan.watchFailures)
        let versions = scan.value ?? [:]
        let now = clock.now
        for (version, fingerprint) in versions.sorted(by: { $0.key < $1.key }) {
            let key = BundleKey(name: name, version: version)
            note(key, machine.observe(key, fingerprint, at: now))
        }
        for key in machine.versions(of: name) where versions[key.version] == nil {
            note(key, machine.observe(key, nil, at: now))
        }
    }

    private func look(at key: BundleKey) async {
        let scan = await files.run { [scanner] in scanner.scanBundle(key) }
        report(scan.watchFailures)
        note(key, machine.observe(key, scan.value, at: clock.now))
    }

    // MARK: Decisions

    /// Verifies, then loads, a bundle that has settled with new files; registers the copy once
    /// it is ready, and drains the copy it replaces.
    private func consider(_ key: BundleKey, _ fingerprint: BundleFingerprint) async {
        let directory = scanner.directory(of: key)
        let verification = await files.run { () -> Result<BundleVerifier.VerifiedBundle, BundleError> in
            Result { () throws(BundleError) in try BundleVerifier().verify(bundleAt: directory) }
        }
        if case .failure(let error) = verification {
            await recordFailure(of: key, error, reporting: .invalid(error))
            return
        }
        emit(key, .loading)
        if resident[key] == nil {
            registry.register(ModelVersionRecord(name: key.name, version: key.version, directory: directory, manifest: nil, state: .loading))
        }
        let started = clock.now
        let scheduler = self.scheduler
        guard let outcome = await stop.unlessStopped({ await scheduler.load(bundleAt: directory, name: key.name, version: key.version) }) else {
            // Shutting down: the load finishes on its own threads and the Scheduler's shutdown
            // destroys what it made.
            return
        }
        switch outcome {
        case .failure(let error):
            await recordFailure(of: key, error, reporting: .loadFailed(error))
        case .success(let loaded):
            activate(ModelVersionRecord(
                name: key.name, version: key.version, directory: loaded.directory, manifest: loaded.manifest,
                state: .ready(loaded.serving, loaded.validator)
            ))
            let replaced = resident.updateValue(loaded.serving, forKey: key)
            emit(key, .ready(loadTime: started.duration(to: clock.now)))
            if let replaced {
                emit(key, .replaced)
                drain(replaced, of: key)
            }
            enforceCap(of: key.name)
        }
    }

    /// Hands a ready version to the registry, which decides what serves.
    ///
    /// The one place a loaded version becomes reachable: today registering the ready record is
    /// all it takes (the highest ready version is active); rollout state goes here.
    private func activate(_ record: ModelVersionRecord) {
        registry.register(record)
    }

    /// A bundle that failed: registered failed with its reason, unless a copy already loaded
    /// serves, which then keeps serving. The event follows the registration, so whoever sees
    /// it finds the registry up to date.
    private func recordFailure(of key: BundleKey, _ error: BundleError, reporting event: ReconcilerEvent.Kind) async {
        guard resident[key] == nil else {
            emit(key, event)
            emit(key, .keptServing)
            return
        }
        let directory = scanner.directory(of: key)
        let manifest = await files.run { try? Manifest.load(contentsOf: directory + "/" + BundleVerifier.manifestFileName) }
        registry.register(ModelVersionRecord(name: key.name, version: key.version, directory: directory, manifest: manifest, state: .failed(error)))
        emit(key, event)
    }

    /// A bundle whose folder is gone: no new request resolves to it, and it drains.
    private func remove(_ key: BundleKey) {
        registry.remove(name: key.name, version: key.version)
        emit(key, .removed)
        if let serving = resident.removeValue(forKey: key) { drain(serving, of: key) }
    }

    /// Unloads the oldest inactive versions of `name` past the cap.
    private func enforceCap(of name: String) {
        let snapshot = registry.snapshot
        let loaded = (snapshot.models[name] ?? []).map(\.version).filter { resident[BundleKey(name: name, version: $0)] != nil }
        let isProtected = self.isProtected
        let victims = ResidencyCap.versionsToUnload(
            resident: loaded, active: snapshot.activeVersion(of: name)?.version, limit: configuration.maxResidentVersions,
            isProtected: { isProtected(name, $0) }
        )
        for version in victims {
            let key = BundleKey(name: name, version: version)
            registry.remove(name: name, version: version)
            emit(key, .unloaded(maxResidentVersions: max(1, configuration.maxResidentVersions)))
            if let serving = resident.removeValue(forKey: key) { drain(serving, of: key) }
        }
    }

    /// Shuts a version out of service down in a task of its own, so a slow drain never holds the
    /// loop: what it runs finishes within the grace period, then its instance is destroyed.
    private func drain(_ serving: ServingVersion, of key: BundleKey) {
        let (scheduler, events, grace) = (self.scheduler, self.events, configuration.drainGracePeriod)
        Task {
            let report = await scheduler.shutDown(serving, gracePeriod: grace)
            events(ReconcilerEvent(model: key.name, version: key.version, kind: .drained(report)))
        }
    }

    // MARK: Reporting

    private func note(_ key: BundleKey, _ observation: ModelReconciler.StateMachine<ContinuousClock.Instant>.Observation, isDrift: Bool = false) {
        guard observation.isChange else { return }
        if isDrift { emit(key, .drift) }
        guard observation.startsSettling else { return }
        emit(key, observation == .appeared ? .seen : .changed)
        emit(key, .waitingToSettle(settleTime: machine.settleTime))
    }

    private func directoryUnreadable(_ reason: String) {
        guard !isDirectoryUnreadable else { return }
        isDirectoryUnreadable = true
        emit(nil, .rescanFailed(reason: reason))
    }

    private func report(_ failures: [DirectoryWatcher.WatchError]) {
        for failure in failures where reportedWatchFailures.insert(failure.path).inserted {
            emit(nil, .watcherUnavailable(reason: failure.description))
        }
    }

    private func emit(_ key: BundleKey?, _ kind: ReconcilerEvent.Kind) {
        events(ReconcilerEvent(model: key?.name, version: key?.version, kind: kind))
    }
}
