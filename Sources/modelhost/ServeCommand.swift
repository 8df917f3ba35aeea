import ArgumentParser
import CircuitBreaker
import Dispatch
import Foundation
import Gatekeeper
import Logging
import ModelHostCore
import ModelHostHTTP
import ModelHostLogging
import ModelHostMetrics
import ModelRegistry
import PluginLoader
import Scheduler
import Synchronization
import Telemetry

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve`: load every bundle in a models directory and serve them over HTTP.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load the bundles in a models directory and serve them over HTTP.",
        discussion: """
            Bundles live at <models>/<name>/<version>/. Each library is copied, verified, to \
            <models>/.modelhost/libs/<sha256>.so (created 0700) and mapped from there. The server \
            listens first and loads the bundles while it answers; /v2/health/ready turns 200 once every bundle has loaded or failed and at \
            least one model is ready. A bundle that fails to load is reported and skipped; every other \
            bundle serves. Every route but the health probes needs an API key from the --keys file (or \
            MODELHOST_API_KEYS); a --keys file that does not exist yet is created with a development \
            key, printed once. After the initial load the models directory is watched: a bundle renamed \
            into place loads once nothing in it has changed for --settle-time and it passes every check, \
            a changed bundle is loaded again before its old copy drains, a removed one drains. SIGTERM or \
            SIGINT shuts down gracefully; a second one exits at once.
            """
    )

    @Option(name: .long, help: "The models directory.")
    var models: String

    @Option(name: .long, help: "The address to listen on.")
    var host: String = "127.0.0.1"

    /// The port `serve` listens on, and the one the commands that call a server assume.
    static let defaultPort = 8080

    @Option(name: .long, help: "The port to listen on (0 picks a free port).")
    var port: Int = defaultPort

    @Option(name: .long, help: "The keys file (hashes only; see `modelhost keys`). Reloaded when it changes.")
    var keys: String?

    @Flag(name: .long, help: "Serve without API keys. Anyone who can reach the port can call every route.")
    var insecureNoAuth = false

    @Flag(name: .long, help: "Turn rate limits off (for measuring their cost).")
    var disableRateLimits = false

    @Option(name: .long, help: "The largest request body accepted, in bytes.")
    var maxBodyBytes: Int = HTTPServer.Configuration().maxBodyBytes

    @Option(name: .long, help: "The largest total size of a request's headers, in bytes.")
    var maxHeaderBytes: Int = HTTPServer.Configuration().maxHeaderBytes

    @Option(name: .long, help: "Connections served at once.")
    var maxConnections: Int = HTTPServer.Configuration().maxConnections

    @Option(name: .long, help: "Seconds a connection may take to deliver a complete request, idle time included.")
    var readTimeout: Int = 30

    @Option(name: .long, help: "The memory all buffered request bodies may take together, in bytes; beyond it requests get 503.")
    var maxBufferedBodyBytes: Int = HTTPServer.Configuration().maxBufferedBodyBytes

    @Option(name: .long, help: "Seconds loading one bundle may take (dlopen, create, warmup), unless its manifest asks for more.")
    var loadTimeout: Int = 60

    @Option(name: .long, help: "Seconds in-flight requests have to finish after SIGTERM or SIGINT before the server exits.")
    var shutdownTimeout: Int = 10

    @Flag(name: .long, help: "Report ready only when every model has a ready version (by default one ready model is enough).")
    var strictReadiness = false

    @Option(name: .long, help: "Seconds nothing in a new or changed bundle may change before it is loaded (fractions allowed).")
    var settleTime: Double = Self.seconds(ModelReconciler.Configuration().settleTime)

    @Option(name: .long, help: "Seconds between full rescans of the models directory, which find what the watcher missed (fractions allowed).")
    var rescanInterval: Double = Self.seconds(ModelReconciler.Configuration().rescanInterval)

    @Option(name: .long, help: "Loaded versions kept per model; past it the oldest inactive ones are unloaded.")
    var maxResidentVersions: Int = ModelReconciler.Configuration().maxResidentVersions

    @Option(name: .long, help: "The address the metrics listener binds to (GET /metrics, Prometheus text format, no key).")
    var metricsHost: String = MetricsServer.Configuration().host

    @Option(name: .long, help: "The metrics listener's port (0 picks a free port).")
    var metricsPort: Int = MetricsServer.Configuration().port

    @Flag(name: .long, help: "Open no metrics listener.")
    var noMetrics = false

    @Option(name: .long, help: "How log lines are written: json (one object per line) or text.")
    var logFormat: String = "text"

    @Option(name: .long, help: "The least severe level logged: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .long, help: "Log no line per request (lifecycle events are still logged).")
    var noRequestLog = false

    @Flag(name: .long, help: "Track no predictions, whatever the manifests' tracking sections say.")
    var noPredictionTracking = false

    func validate() throws {
        if keys == nil && !insecureNoAuth {
            throw ValidationError("give --keys FILE (created with a development key if missing), or --insecure-no-auth to serve without keys")
        }
        if keys != nil && insecureNoAuth {
            throw ValidationError("--keys and --insecure-no-auth contradict each other; give one")
        }
        for (name, value) in [("--load-timeout", loadTimeout), ("--read-timeout", readTimeout)] where value < 1 {
            throw ValidationError("\(name) must be at least 1 second")
        }
        if shutdownTimeout < 0 {
            throw ValidationError("--shutdown-timeout must not be negative")
        }
        if !(0...3600).contains(settleTime) {
            throw ValidationError("--settle-time must be between 0 and 3600 seconds")
        }
        if !(0.05...86400).contains(rescanInterval) {
            throw ValidationError("--rescan-interval must be between 0.05 and 86400 seconds")
        }
        if maxResidentVersions < 1 {
            throw ValidationError("--max-resident-versions must be at least 1")
        }
        if !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be between 0 and 65535")
        }
        _ = try logConfiguration
    }

    /// `--log-format` and `--log-level`, parsed.
    var logConfiguration: LogConfiguration {
        get throws {
            var configuration = LogConfiguration()
            guard let format = LogFormat(logFormat) else {
                throw ValidationError("--log-format must be one of \(LogFormat.allNames.joined(separator: ", ")), not \"\(logFormat)\"")
            }
            guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--log-level must be one of \(levels), not \"\(logLevel)\"")
            }
            configuration.format = format
            configuration.level = level
            return configuration
        }
    }

    /// A duration in seconds, for an option's default.
    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// How the models directory is followed after the initial load.
    var reconcilerConfiguration: ModelReconciler.Configuration {
        var configuration = ModelReconciler.Configuration()
        configuration.settleTime = .milliseconds(Int64((settleTime * 1000).rounded()))
        configuration.rescanInterval = .milliseconds(Int64((rescanInterval * 1000).rounded()))
        configuration.maxResidentVersions = maxResidentVersions
        configuration.drainGracePeriod = .seconds(shutdownTimeout)
        return configuration
    }

    func run() async throws {
        let logConfiguration = try self.logConfiguration
        LoggingSystem.bootstrap { label in logConfiguration.makeHandler(label: label) }
        let logger = Logger(label: "modelhost")
        let counters = EdgeCounters()

        let keyRing = try loadKeys(logger: logger)
        var gatekeeperConfiguration = Gatekeeper<ContinuousClock>.Configuration()
        gatekeeperConfiguration.requiresAuthentication = !insecureNoAuth
        gatekeeperConfiguration.enforcesRateLimits = !disableRateLimits
        if insecureNoAuth {
            logger.warning("SERVING WITHOUT AUTHENTICATION (--insecure-no-auth): anyone who can reach \(host):\(port) can call every route")
        }
        let gatekeeper = Gatekeeper(configuration: gatekeeperConfiguration, keys: keyRing, clock: ContinuousClock())

        // Rollout changes are logged at once and saved by one task, the latest state each time.
        let (rolloutSaves, saveRollouts) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let activeVersions = Mutex<[String: String]>([:])
        let registry = ModelRegistry { model, state, summary in
            logger.notice("rollout changed", metadata: ["event": "rollout_changed", "model": "\(model)", "change": "\(summary)"])
            let activated = activeVersions.withLock { active -> String? in
                guard let version = state.pinned ?? state.active, active[model] != version else { return nil }
                active[model] = version
                return version
            }
            if let activated {
                logger.notice("version activated", metadata: ["event": "version_activated", "model": "\(model)", "version": "\(activated)"])
            }
            saveRollouts.yield()
        }
        let rolloutStore = RolloutStore(modelsDirectory: models)
        switch rolloutStore.load() {
        case .none:
            break
        case .states(let states):
            registry.restoreRollouts(states)
            logger.info("rollout state restored", metadata: ["models": "\(states.keys.sorted().joined(separator: ","))", "file": "\(rolloutStore.path)"])
        case .damaged(let reason, let setAside):
            logger.error("rollout state file damaged; set aside, starting with defaults", metadata: ["reason": "\(reason)", "setAside": "\(setAside)"])
        }
        let rolloutSaver = Task {
            for await _ in rolloutSaves {
                do throws(ModelHostError) {
                    try rolloutStore.save(registry.snapshot.rollouts)
                } catch {
                    logger.error("rollout state not saved", metadata: ["reason": "\(error.message)"])
                }
            }
        }
        var schedulerConfiguration = Scheduler.Configuration()
        schedulerConfiguration.loadTimeout = .seconds(loadTimeout)
        schedulerConfiguration.libraryCache = Self.libraryCache(inModels: models)
        let breakers = BreakerRegistry()
        let scheduler = Scheduler(configuration: schedulerConfiguration, breakers: breakers) { event in Self.log(event, to: logger) }
        let breakerLog = Task {
            for await event in breakers.events { Self.log(event, to: logger) }
        }
        let repository = ModelRepository(configuration: .init(directory: models), registry: registry, scheduler: scheduler)
        // The residency cap never unloads a version the rollout relies on.
        let reconciler = ModelReconciler(
            repository: repository, configuration: reconcilerConfiguration,
            isProtected: { name, version in
                guard let rollout = registry.snapshot.rollouts[name] else { return false }
                return rollout.pinned == version || rollout.canary?.version == version || rollout.split?.contains { $0.version == version } == true
            },
            events: { event in
                Self.count(event, into: counters.modelEvents)
                Self.log(event, to: logger)
            }
        )

        var configuration = HTTPServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxBufferedBodyBytes = maxBufferedBodyBytes
        configuration.maxHeaderBytes = maxHeaderBytes
        configuration.maxConnections = maxConnections
        configuration.requestReadTimeout = .seconds(readTimeout)
        var serviceConfiguration = ModelHostService.Configuration()
        serviceConfiguration.requiresEveryModelReady = strictReadiness
        serviceConfiguration.tracksPredictions = !noPredictionTracking
        let unloader = VersionUnloader(registry: registry, scheduler: scheduler, gracePeriod: .seconds(shutdownTimeout))
        let service = ModelHostService(
            registry: registry, admission: gatekeeper, breakers: breakers, control: unloader, configuration: serviceConfiguration,
            logger: Logger(label: "modelhost.http"), requestLog: noRequestLog ? nil : logConfiguration.makeRequestLog(), counters: counters
        )
        // Listen first: probes answer while the bundles load.
        let server = try await HTTPServer.bind(configuration: configuration, service: service)
        logger.info("listening on http://\(host):\(server.port)")
        var metricsServer: MetricsServer?
        if !noMetrics {
            var metricsConfiguration = MetricsServer.Configuration()
            metricsConfiguration.host = metricsHost
            metricsConfiguration.port = metricsPort
            let collector = MetricsCollector(registry: registry, counters: counters, serverVersion: ModelHostService.version)
            do {
                metricsServer = try await MetricsServer.bind(configuration: metricsConfiguration, collector: collector)
            } catch {
                _ = await server.shutdown(gracePeriod: .zero)
                throw ValidationError("the metrics listener cannot bind to \(metricsHost):\(metricsPort): \(error) (give --metrics-port, or --no-metrics)")
            }
            logger.info("metrics on http://\(metricsHost):\(metricsServer!.port)/metrics")
        }

        let signals = SignalStream(SIGINT, SIGTERM)
        let models = self.models
        let loading = Task {
            do {
                let reports = try await repository.loadAll { report in
                    counters.modelEvents.record(report.record.isReady ? .load : .loadFailure, model: report.record.name)
                    Self.log(report.record, to: logger)
                }
                if reports.isEmpty { logger.warning("no bundles found", metadata: ["models": "\(models)"]) }
                logger.info("initial load finished", metadata: ["ready": "\(reports.filter(\.record.isReady).count)", "failed": "\(reports.filter { $0.record.failure != nil }.count)"])
            } catch {
                logger.error("the models directory cannot be read; serving nothing until it can", metadata: ["reason": "\(error)"])
            }
            // From here on the reconciler alone loads and unloads.
            await reconciler.run()
        }
        // Versions that start to take traffic are watched and rolled back if they fail.
        let rolloutWatcher = RolloutWatcher(registry: registry) { model, version, reason in
            counters.modelEvents.record(.automaticRollback, model: model)
            logger.error("version rolled back by the rollout watcher", metadata: [
                "event": "rolled_back", "trigger": "automatic", "model": "\(model)", "version": "\(version)", "reason": "\(reason)",
            ])
        }
        let rollingOut = Task {
            while !registry.snapshot.isInitialLoadComplete, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
            }
            await rolloutWatcher.run()
        }
        let watching = keys.map { keysFile in Task { await Self.watchKeys(at: keysFile, into: gatekeeper, logger: logger) } }

        let received = await signals.next()
        logger.notice("shutting down", metadata: ["signal": "\(received)", "timeout": "\(shutdownTimeout)s"])
        // A second signal exits at once, whatever is still running.
        signals.onNext { signal in
            logger.critical("second signal; exiting at once", metadata: ["signal": "\(signal)"])
            Glibc.exit(128 + signal)
        }
        let status = await shutDown(registry: registry, reconciler: reconciler, server: server, scheduler: scheduler)
        await metricsServer?.shutdown()
        loading.cancel()
        rollingOut.cancel()
        await rollingOut.value
        watching?.cancel()
        await breakers.finish()
        await breakerLog.value
        saveRollouts.finish()
        await rolloutSaver.value
        // Threads abandoned to hung plugin calls must not keep the process alive.
        Glibc.exit(status)
    }

    /// The library cache of a models directory, `<models>/.modelhost/libs`: inside the models
    /// directory, so it sits on the same file system and is owned like it, under a name the
    /// models scanner skips.
    static func libraryCache(inModels models: String) -> String {
        URL(fileURLWithPath: models).appendingPathComponent(".modelhost/libs").path
    }

    /// Shuts down in order: readiness turns false, the models directory is no longer followed
    /// (nothing loads from then on), the listener closes, in-flight requests finish within the
    /// shutdown timeout, then every version is destroyed on its own threads.
    ///
    /// - Returns: The exit status: 0, or 1 when calls were still running at the timeout.
    private func shutDown(registry: ModelRegistry, reconciler: ModelReconciler, server: HTTPServer, scheduler: Scheduler) async -> Int32 {
        let logger = Logger(label: "modelhost")
        registry.markShuttingDown()
        await reconciler.shutDown()
        let deadline = ContinuousClock.now.advanced(by: .seconds(shutdownTimeout))
        let edge = await server.shutdown(gracePeriod: ContinuousClock.now.duration(to: deadline))
        if !edge.isGraceful {
            logger.warning("connections still open at the shutdown timeout were closed")
        }
        let reports = await scheduler.shutDownAll(gracePeriod: max(.zero, ContinuousClock.now.duration(to: deadline)))
        let hung = reports.filter { $0.stillRunning > 0 }
        if hung.isEmpty {
            logger.info("stopped", metadata: ["versions": "\(reports.count)"])
            return 0
        }
        let names = hung.map { "\($0.model) \($0.version) (\($0.stillRunning) calls)" }.joined(separator: ", ")
        logger.error("stopped with calls still running at the shutdown timeout", metadata: ["versions": "\(names)"])
        return 1
    }

    private static func log(_ record: ModelVersionRecord, to logger: Logger) {
        if let failure = record.failure {
            logger.error("model failed to load", metadata: [
                "event": "bundle_refused", "model": "\(record.name)", "version": "\(record.version)", "code": "\(failure.code)", "reason": "\(failure.message)",
            ])
        } else {
            logger.info("model ready", metadata: ["event": "bundle_loaded", "model": "\(record.name)", "version": "\(record.version)"])
        }
    }

    /// Counts what a reconciler event says happened to a bundle.
    private static func count(_ event: ReconcilerEvent, into counters: ModelEventCounters) {
        guard let model = event.model else { return }
        switch event.kind {
        case .ready: counters.record(.load, model: model)
        case .invalid, .loadFailed: counters.record(.loadFailure, model: model)
        case .replaced: counters.record(.reload, model: model)
        default: break
        }
    }

    private static func log(_ event: ReconcilerEvent, to logger: Logger) {
        var metadata: Logger.Metadata = [:]
        if let model = event.model { metadata["model"] = "\(model)" }
        if let version = event.version { metadata["version"] = "\(version)" }
        func with(_ extra: Logger.Metadata) -> Logger.Metadata { metadata.merging(extra) { $1 } }
        switch event.kind {
        case .following(let isWatching):
            logger.info("following the models directory", metadata: with(["inotify": "\(isWatching)"]))
        case .seen: logger.info("bundle seen", metadata: metadata)
        case .changed: logger.info("bundle changed", metadata: metadata)
        case .waitingToSettle(let settleTime): logger.debug("waiting for the bundle to settle", metadata: with(["settle": "\(settleTime)"]))
        case .invalid(let error): logger.error("bundle invalid; not retried until it changes", metadata: with(["event": "bundle_refused", "code": "\(error.code)", "reason": "\(error.message)"]))
        case .loading: logger.info("loading bundle", metadata: metadata)
        case .loadFailed(let error): logger.error("model failed to load; not retried until it changes", metadata: with(["event": "bundle_refused", "code": "\(error.code)", "reason": "\(error.message)"]))
        case .ready(let loadTime): logger.info("model ready", metadata: with(["event": "bundle_loaded", "loadTime": "\(loadTime)"]))
        case .keptServing: logger.warning("the change failed; the copy already loaded keeps serving", metadata: metadata)
        case .replaced: logger.notice("model replaced by its new copy; the old copy drains", metadata: metadata)
        case .removed: logger.notice("bundle removed; the version no longer serves and drains", metadata: metadata)
        case .unloaded(let limit): logger.notice("version unloaded: over the resident versions limit", metadata: with(["maxResidentVersions": "\(limit)"]))
        case .drained(let report):
            logger.info("version drained", metadata: with(["destroyed": "\(report.isDestroyed)", "running": "\(report.stillRunning)"]))
        case .drift: logger.warning("the rescan found a change the watcher missed", metadata: metadata)
        case .overflowed: logger.warning("the watcher's event queue overflowed; rescanning the models directory", metadata: metadata)
        case .watcherUnavailable(let reason): logger.warning("changes are found by rescans only", metadata: with(["reason": "\(reason)"]))
        case .rescanFailed(let reason): logger.error("the models directory cannot be read; nothing is removed until it can", metadata: with(["reason": "\(reason)"]))
        }
    }

    private static func log(_ event: BreakerEvent, to logger: Logger) {
        let metadata: Logger.Metadata = [
            "event": "breaker_transition", "model": "\(event.model)", "version": "\(event.version)",
            "from": "\(event.transition.from)", "to": "\(event.transition.to)", "reason": "\(event.transition.reason)",
        ]
        switch event.transition.to {
        case .open, .forcedOpen: logger.error("circuit breaker opened", metadata: metadata)
        case .halfOpen: logger.notice("circuit breaker probing", metadata: metadata)
        case .closed, .disabled: logger.notice("circuit breaker closed", metadata: metadata)
        }
    }

    private static func log(_ event: SchedulerEvent, to logger: Logger) {
        let metadata: Logger.Metadata = ["model": "\(event.model)", "version": "\(event.version)"]
        switch event.kind {
        case .callOverranDeadline(let overrun):
            logger.warning("a call ran past its deadline; its caller got 504 at the deadline", metadata: metadata.merging(["overrun": "\(overrun)"]) { $1 })
        case .loadTimedOut(let timeout):
            logger.error("loading timed out; its thread is abandoned", metadata: metadata.merging(["timeout": "\(timeout)"]) { $1 })
        case .lateLoadDiscarded:
            logger.notice("a load that had timed out finished; its instance was destroyed", metadata: metadata)
        case .loadRetrying(let attempt, let delay, let reason):
            logger.warning("the plugin cannot start yet; retrying the load", metadata: metadata.merging(["attempt": "\(attempt)", "delay": "\(delay)", "reason": "\(reason)"]) { $1 })
        case .shutDown(let isDestroyed, let stillRunning):
            if stillRunning > 0 {
                logger.error("version shut down with calls still running; their threads are abandoned", metadata: metadata.merging(["running": "\(stillRunning)"]) { $1 })
            } else {
                logger.info("version shut down", metadata: metadata.merging(["destroyed": "\(isDestroyed)"]) { $1 })
            }
        }
    }

    /// The keys from the keys file and the environment. A keys file that does not exist is created
    /// with one development key (scopes infer and admin), printed once.
    private func loadKeys(logger: Logger) throws -> KeyRing {
        var records: [KeyRecord] = []
        do {
            records += try EnvironmentKeys.records()
        } catch {
            throw ValidationError(error.description)
        }
        if let keys {
            if FileManager.default.fileExists(atPath: keys) {
                do {
                    records += try KeyFile.load(from: keys).records
                } catch {
                    throw ValidationError(error.description)
                }
            } else {
                var file = KeyFile(path: keys)
                let created = try file.create(name: "development", scopes: [.infer, .admin], now: Date())
                try file.save()
                records += file.records
                logger.notice("created keys file with a development key; it is shown once, here", metadata: ["file": "\(keys)", "key": "\(created.record.id)"])
                // Written unbuffered, so it is seen at once even when standard output is a file.
                let notice = """
                    Development API key (shown once, not stored): \(created.key.reveal())
                    Call with: curl -H 'X-API-Key: \(created.key.reveal())' http://\(host):\(port)/v2/models/intent-classifier

                    """
                FileHandle.standardOutput.write(Data(notice.utf8))
            }
        }
        logger.info("keys loaded", metadata: ["count": "\(records.count)", "ids": "\(records.map(\.id).joined(separator: ","))"])
        return KeyRing(records: records)
    }

    /// Rereads the keys file once a second while the server runs, so keys rotate without a restart.
    private static func watchKeys(at path: String, into gatekeeper: Gatekeeper<ContinuousClock>, logger: Logger) async {
        let reloader = KeyReloader(
            configuration: .init(path: path),
            environmentKeys: (try? EnvironmentKeys.records()) ?? [],
            clock: ContinuousClock()
        )
        await reloader.run(updating: gatekeeper) { outcome in
            switch outcome {
            case .success(let count): logger.info("keys reloaded", metadata: ["event": "keys_reloaded", "count": "\(count)"])
            case .failure(let error): logger.error("keys file unusable; keeping the keys already loaded", metadata: ["reason": "\(error)"])
            }
        }
    }
}
