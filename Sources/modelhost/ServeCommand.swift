import ArgumentParser
import Dispatch
import Foundation
import ModelHostCore
import ModelHostHTTP
import PluginLoader
import ModelRegistry

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve`: load every bundle in a models directory and serve them over HTTP.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Load the bundles in a models directory and serve them over HTTP.",
        discussion: "Bundles live at <models>/<name>/<version>/. A bundle that fails to load is reported and skipped; every other bundle serves."
    )

    @Option(name: .long, help: "The models directory.")
    var models: String

    @Option(name: .long, help: "The address to listen on.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "The port to listen on (0 picks a free port).")
    var port: Int = 8080

    @Option(name: .long, help: "The largest request body accepted, in bytes.")
    var maxBodyBytes: Int = 8 << 20

    func run() async throws {
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
                log("model \(record.name) \(record.version): FAILED \(failure.code): \(failure.message)")
            } else {
                log("model \(record.name) \(record.version): ready")
            }
        }
        if reports.isEmpty { log("no bundles found in \(models)") }

        var configuration = HTTPServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.maxBodyBytes = maxBodyBytes
        let server = try await HTTPServer.bind(configuration: configuration, service: ModelHostService(registry: registry))
        log("listening on http://\(host):\(server.port)")

        let serving = Task { try await server.run() }
        let signals = Self.onTermination { serving.cancel() }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await serving.value
        } catch is CancellationError {
            // Stopped by a signal.
        }
        log("stopped")
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

/// Writes one line to standard error.
func log(_ message: String) {
    FileHandle.standardError.write(Data(("modelhost: " + message + "\n").utf8))
}
