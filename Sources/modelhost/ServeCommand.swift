import ArgumentParser
import Dispatch
import Foundation
import Gatekeeper
import Logging
import ModelHostCore
import ModelHostHTTP
import ModelRegistry
import PluginLoader

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve`: load every bundle in a models directory and serve them over HTTP.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load the bundles in a models directory and serve them over HTTP.",
        discussion: """
            Bundles live at <models>/<name>/<version>/. A bundle that fails to load is reported and \
            skipped; every other bundle serves. Every route but the health probes needs an API key \
            from the --keys file (or MODELHOST_API_KEYS); a --keys file that does not exist yet is \
            created with a development key, printed once.
            """
    )

    @Option(name: .long, help: "The models directory.")
    var models: String

    @Option(name: .long, help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "The port to listen on (0 picks a free port).")
    var port: Int = 8080

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

    func validate() throws {
        if keys == nil && !insecureNoAuth {
            throw ValidationError("give --keys FILE (created with a development key if missing), or --insecure-no-auth to serve without keys")
        }
        if keys != nil && insecureNoAuth {
            throw ValidationError("--keys and --insecure-no-auth contradict each other; give one")
        }
    }

    func run() async throws {
        let logger = Logger(label: "modelhost")

        let keyRing = try loadKeys(logger: logger)
        var gatekeeperConfiguration = Gatekeeper<ContinuousClock>.Configuration()
        gatekeeperConfiguration.requiresAuthentication = !insecureNoAuth
        gatekeeperConfiguration.enforcesRateLimits = !disableRateLimits
        if insecureNoAuth {
            logger.warning("SERVING WITHOUT AUTHENTICATION (--insecure-no-auth): anyone who can reach \(host):\(port) can call every route")
        }
        let gatekeeper = Gatekeeper(configuration: gatekeeperConfiguration, keys: keyRing, clock: ContinuousClock())

        let registry = ModelRegistry()
        let repository = ModelRepository(configuration: .init(directory: models), registry: registry)
        let reports: [ModelRepository.Report]
        do {
            reports = try await repository.loadAll()
        } catch {
            throw ValidationError(error.message)
        }
        for report in reports {
            let record = report.record
            if let failure = record.failure {
                logger.error("model failed to load", metadata: ["model": "\(record.name)", "version": "\(record.version)", "code": "\(failure.code)", "reason": "\(failure.message)"])
            } else {
                logger.info("model ready", metadata: ["model": "\(record.name)", "version": "\(record.version)"])
            }
        }
        if reports.isEmpty { logger.warning("no bundles found", metadata: ["models": "\(models)"]) }

        var configuration = HTTPServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.maxBodyBytes = maxBodyBytes
        configuration.maxHeaderBytes = maxHeaderBytes
        configuration.maxConnections = maxConnections
        configuration.requestReadTimeout = .seconds(readTimeout)
        let service = ModelHostService(registry: registry, admission: gatekeeper, logger: Logger(label: "modelhost.http"))
        let server = try await HTTPServer.bind(configuration: configuration, service: service)
        logger.info("listening on http://\(host):\(server.port)")

        let keysFile = keys
        let serving = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                if let keysFile {
                    group.addTask { await Self.watchKeys(at: keysFile, into: gatekeeper, logger: logger) }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        let signals = Self.onTermination { serving.cancel() }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await serving.value
        } catch is CancellationError {
            // Stopped by a signal.
        }
        logger.info("stopped")
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
            case .success(let count): logger.info("keys reloaded", metadata: ["count": "\(count)"])
            case .failure(let error): logger.error("keys file unusable; keeping the keys already loaded", metadata: ["reason": "\(error)"])
            }
        }
    }

    /// Calls `handler` on SIGINT or SIGTERM.
    private static func onTermination(_ handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }
}
