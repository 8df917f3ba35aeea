import CircuitBreaker
import Foundation
import Gatekeeper
import ModelHostTestKit
import ModelRegistry
import NIOCore
import NIOPosix
import Scheduler

@testable import ModelHostHTTP

/// A whole server on an ephemeral port over a models directory, as `modelhost serve` runs it:
/// bound first, bundles loading in the background, shut down explicitly.
final class LiveServer: Sendable {
    let models: ModelsDirectory
    let registry: ModelRegistry
    let scheduler: Scheduler
    let server: HTTPServer
    let loading: Task<Void, Never>

    var port: Int { server.port }
    var client: TestHTTPClient { TestHTTPClient(port: server.port) }

    /// Starts a server over `models`.
    ///
    /// - Parameters:
    ///   - admission: The Gatekeeper, or `nil` to admit everything.
    ///   - breakers: Where breakers are registered and overridden, or `nil`.
    ///   - control: What unloads versions for the unload routes, or `nil`.
    ///   - loadTimeout: The Scheduler's load timeout.
    ///   - configure: Changes to the HTTP configuration (the port is always 0).
    ///   - service: Changes to the service configuration.
    init(
        models: ModelsDirectory, admission: (any RequestAdmitting)? = nil, breakers: BreakerRegistry? = nil,
        control: (any ModelControl)? = nil, loadTimeout: Duration = .seconds(60),
        configure: (inout HTTPServer.Configuration) -> Void = { _ in },
        service: (inout ModelHostService.Configuration) -> Void = { _ in }
    ) async throws {
        self.models = models
        registry = ModelRegistry()
        var schedulerConfiguration = Scheduler.Configuration()
        schedulerConfiguration.loadTimeout = loadTimeout
        scheduler = Scheduler(configuration: schedulerConfiguration, breakers: breakers)
        var http = HTTPServer.Configuration()
        configure(&http)
        http.port = 0
        var serviceConfiguration = ModelHostService.Configuration()
        service(&serviceConfiguration)
        server = try await HTTPServer.bind(
            configuration: http,
            service: ModelHostService(registry: registry, admission: admission, breakers: breakers, control: control, configuration: serviceConfiguration)
        )
        let repository = ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: scheduler)
        loading = Task { _ = try? await repository.loadAll() }
    }

    /// Waits until the initial load has finished.
    func loaded() async {
        await loading.value
    }

    /// Shuts the edge and every version down.
    func stop(gracePeriod: Duration = .seconds(5)) async {
        _ = await server.shutdown(gracePeriod: gracePeriod)
        _ = await scheduler.shutDownAll(gracePeriod: gracePeriod)
    }
}

/// The one-element FP32 request every fixture model takes, over the Open Inference Protocol.
let fixtureInferBody = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
/// The echo model's request.
let echoInferBody = #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]}]}"#
