import CircuitBreaker
import Foundation
import ModelHostCore
import ModelManifest
import PluginLoader

/// Execution for every loaded model version: loads each on threads of its own, and shuts each
/// down.
///
/// The actor is the control plane only. Requests never pass through it: they go straight to a
/// ``ServingVersion``, whose state is its own and is changed under its own lock.
public actor Scheduler {
    /// How versions are loaded.
    public struct Configuration: Sendable {
        /// The longest loading a bundle may take — verification, `dlopen`, the library's
        /// constructors, `create` and warmup — unless its manifest asks for longer with
        /// `limits.loadTimeoutMs`. A load that overruns fails and its thread is abandoned.
        /// Default 60 seconds.
        public var loadTimeout: Duration = .seconds(60)
        /// Loads in all, the first included, of a bundle whose plugin says at `create` that it
        /// cannot start now (`MH_ERROR_UNAVAILABLE`: a dependency not up yet). Invalid bundles
        /// and other failures are never retried. All attempts share the load timeout. Default 3.
        public var loadAttempts: Int = 3
        /// The wait before the first load retry; each further retry waits twice as long as the
        /// one before. Default 500 milliseconds.
        public var loadRetryDelay: Duration = .milliseconds(500)
        /// The directory of content-addressed library copies the loader maps plugins from
        /// (``PluginLoader/Configuration/libraryCache``), normally `<models>/.modelhost/libs`;
        /// `modelhost serve` sets it. `nil` maps each library from its bundle. Default `nil`.
        public var libraryCache: String? = nil

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    /// A version that loaded: its execution owner and what the request path needs to know.
    public struct LoadedVersion: Sendable {
        /// The execution owner.
        public var serving: ServingVersion
        /// The bundle directory, with symlinks resolved.
        public var directory: String
        /// The bundle's manifest.
        public var manifest: Manifest
        /// The manifest's compiled input rules.
        public var validator: InputValidator
    }

    private enum State {
        case running
        case shutDown
    }

    private let configuration: Configuration
    private let events: @Sendable (SchedulerEvent) -> Void
    private let breakers: BreakerRegistry?
    private let loader: PluginLoader
    private let watchdog = DeadlineWatchdog()
    private var versions: [ObjectIdentifier: ServingVersion] = [:]
    private var state = State.running

    /// Creates a scheduler.
    ///
    /// - Parameters:
    ///   - configuration: How versions are loaded.
    ///   - breakers: Where each ready version's circuit breaker is registered, for operator
    ///     overrides and transition events; `nil` keeps the breakers to their versions.
    ///   - events: Receives what happens to versions, for the log; called on any thread.
    public init(
        configuration: Configuration = .init(), breakers: BreakerRegistry? = nil,
        events: @escaping @Sendable (SchedulerEvent) -> Void = { _ in }
    ) {
        self.configuration = configuration
        var loaderConfiguration = PluginLoader.Configuration()
        loaderConfiguration.libraryCache = configuration.libraryCache
        self.loader = PluginLoader(configuration: loaderConfiguration)
        self.breakers = breakers
        self.events = events
    }

    /// Loads the bundle at `directory` on a thread of its own, within the load timeout.
    ///
    /// - Parameters:
    ///   - directory: The bundle, `<models>/<name>/<version>/`.
    ///   - name: The model's name, from its folder.
    ///   - version: The version's text, from its folder.
    /// - Returns: The ready version, or the reason it cannot serve.
    public func load(bundleAt directory: String, name: String, version: String) async -> Result<LoadedVersion, BundleError> {
        guard case .running = state else {
            return .failure(BundleError(.loadFailed, bundle: directory, "the server is shutting down"))
        }
        let timeout = loadTimeout(forBundleAt: directory)
        var breakerEvents: @Sendable (BreakerTransition) -> Void = { _ in }
        if let breakers { breakerEvents = breakers.eventSink(model: name, version: version) }
        let serving = ServingVersion(name: name, version: version, watchdog: watchdog, events: events, breakerEvents: breakerEvents)
        let loaded: PluginLoader.LoadedBundle
        let retries = ServingVersion.LoadRetries(attempts: max(1, configuration.loadAttempts), firstDelay: configuration.loadRetryDelay)
        switch await serving.load(bundleAt: directory, timeout: timeout, loader: loader, retries: retries) {
        case .success(let bundle): loaded = bundle
        case .failure(let error): return .failure(error)
        }
        guard case .running = state else {
            // Shut down while this loaded: it never serves.
            _ = await serving.shutdown(deadline: ContinuousClock.now)
            return .failure(BundleError(.loadFailed, bundle: directory, "the server is shutting down"))
        }
        versions[ObjectIdentifier(serving)] = serving
        await breakers?.register(serving, model: name, version: version)
        return .success(LoadedVersion(serving: serving, directory: loaded.directory, manifest: loaded.manifest, validator: loaded.validator))
    }

    /// Shuts `version` down: no new work, what it has finishes within `gracePeriod`, then its
    /// instance is destroyed on its own thread and its threads end.
    public func shutDown(_ version: ServingVersion, gracePeriod: Duration) async -> ServingVersion.ShutdownReport {
        versions[ObjectIdentifier(version)] = nil
        await breakers?.unregister(model: version.name, version: version.version)
        return await version.shutdown(deadline: ContinuousClock.now.advanced(by: gracePeriod))
    }

    /// Shuts every version down at once, each as ``shutDown(_:gracePeriod:)`` does, then ends the
    /// deadline thread. Loads that finish afterwards never serve.
    ///
    /// - Returns: One report per version.
    public func shutDownAll(gracePeriod: Duration) async -> [ServingVersion.ShutdownReport] {
        guard case .running = state else { return [] }
        state = .shutDown
        let deadline = ContinuousClock.now.advanced(by: gracePeriod)
        let all = Array(versions.values)
        versions = [:]
        let reports = await withTaskGroup(of: ServingVersion.ShutdownReport.self) { group in
            for version in all {
                group.addTask { await version.shutdown(deadline: deadline) }
            }
            var reports: [ServingVersion.ShutdownReport] = []
            for await report in group { reports.append(report) }
            return reports
        }
        await watchdog.stop()
        return reports.sorted { ($0.model, $0.version) < ($1.model, $1.version) }
    }

    /// The server's load timeout, or the longer one the bundle's manifest asks for. The manifest
    /// is only read here; verification proper happens on the version's thread.
    private func loadTimeout(forBundleAt directory: String) -> Duration {
        let requested = (try? Manifest.load(contentsOf: directory + "/" + BundleVerifier.manifestFileName))?.limits.loadTimeoutMilliseconds
        guard let requested else { return configuration.loadTimeout }
        return max(configuration.loadTimeout, .milliseconds(requested))
    }
}
