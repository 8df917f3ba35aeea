/// Keeps a Gatekeeper's keys in step with the keys file while the server runs, so keys rotate
/// without a restart.
///
/// Environment keys (`MODELHOST_API_KEYS`) are kept alongside the file's. When the file becomes
/// unreadable or invalid, the keys already loaded stay in force and the problem is reported.
public struct KeyReloader<C: Clock>: Sendable where C.Duration == Duration {
    /// How the reloader watches.
    public struct Configuration: Sendable {
        /// The keys file.
        public var path: String
        /// How often the file is checked. Default one second.
        public var interval: Duration = .seconds(1)

        /// Creates a configuration for the keys file at `path`.
        public init(path: String) {
            self.path = path
        }
    }

    private let configuration: Configuration
    private let environmentKeys: [KeyRecord]
    private let monitor: KeyFileMonitor
    private let clock: C

    /// Creates a reloader.
    ///
    /// - Parameters:
    ///   - configuration: The file and the interval.
    ///   - environmentKeys: Keys from the environment, kept in every reloaded set.
    ///   - clock: The clock the interval runs on.
    public init(configuration: Configuration, environmentKeys: [KeyRecord], clock: C) {
        self.configuration = configuration
        self.environmentKeys = environmentKeys
        self.monitor = KeyFileMonitor(path: configuration.path)
        self.clock = clock
    }

    /// Checks the file every interval and hands changed keys to `gatekeeper`, until cancelled.
    ///
    /// - Parameters:
    ///   - gatekeeper: Where new key sets go.
    ///   - report: Called with each outcome: the new number of keys, or the error that kept the
    ///     old set in force.
    public func run<GatekeeperClock: Clock>(
        updating gatekeeper: Gatekeeper<GatekeeperClock>,
        report: @Sendable (Result<Int, KeyFileError>) -> Void = { _ in }
    ) async {
        // The first check applies the file as it is now, in case it changed since the server
        // read it; after that, only changes are applied.
        while !Task.isCancelled {
            do {
                if let records = try monitor.reloadIfChanged() {
                    gatekeeper.replaceKeys(KeyRing(records: environmentKeys + records))
                    report(.success(records.count))
                }
            } catch {
                report(.failure(error))
            }
            do {
                try await clock.sleep(for: configuration.interval)
            } catch {
                return
            }
        }
    }
}
