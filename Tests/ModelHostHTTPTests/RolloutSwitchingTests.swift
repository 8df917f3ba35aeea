import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelRegistry
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// Switching versions under load: promotions and rollbacks change the version of new requests
/// at once, and no request fails because of a switch.
@Suite(.serialized) struct RolloutSwitchingTests {
    /// What one request saw: when it was sent and answered, its status and version.
    private struct Exchange: Sendable {
        var sent: ContinuousClock.Instant
        var answered: ContinuousClock.Instant
        var status: HTTPResponseStatus
        var version: String?
    }

    @Test func swapsAndRollbacksUnderLoadFailNoRequest() async throws {
        let models = try ModelsDirectory()
        for version in ["1.0.0", "1.1.0"] {
            try FaultBundle.make("m", config: [:], in: models, version: version, limits: ["maxConcurrency": 4, "maxQueue": 256, "requestsPerSecond": 100_000, "burst": 10_000])
        }
        let server = try await LiveServer(models: models)
        await server.loaded()
        let client = server.client
        let body = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
        // When each version became active, in order.
        let timeline = LockedBox<[(ContinuousClock.Instant, String)]>([(.now, "1.1.0")])
        let exchanges = LockedBox<[Exchange]>([])
        let stop = LockedBox(false)
        let clients = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !stop.value {
                            let sent = ContinuousClock.now
                            let response = try? await client.send(.POST, "/v2/models/m/infer", body: body)
                            let exchange = Exchange(
                                sent: sent, answered: .now, status: response?.status ?? .internalServerError,
                                version: response?.headers.first(name: "X-Model-Version")
                            )
                            exchanges.withLock { $0.append(exchange) }
                        }
                    }
                }
            }
        }
        // Each switch waits for two more answers, so requests run between all of them however
        // busy the machine is.
        func answersBetweenSwitches() async throws {
            let seen = exchanges.value.count
            try await waitUntil(.seconds(30)) { exchanges.value.count >= seen + 2 }
        }
        for round in 0..<20 {
            try await answersBetweenSwitches()
            try server.registry.updateRollout(of: "m") { (state: inout RolloutState, ready: [String]) throws(ModelHostError) -> String in
                try state.rollback(to: nil, reason: "round \(round)", ready: ready)
            }
            let target = server.registry.snapshot.activeVersion(of: "m")?.version ?? "-"
            timeline.withLock { $0.append((.now, target)) }
            try await answersBetweenSwitches()
            let back = round.isMultiple(of: 2) ? "1.1.0" : "1.0.0"
            _ = try server.registry.updateRollout(of: "m") { (state: inout RolloutState, ready: [String]) throws(ModelHostError) -> String in
                try state.promote(back, ready: ready)
            }
            timeline.withLock { $0.append((.now, back)) }
        }
        try await answersBetweenSwitches()
        stop.withLock { $0 = true }
        await clients.value
        let seen = exchanges.value
        let switches = timeline.value
        #expect(seen.count > 80, "only \(seen.count) requests were made")
        #expect(seen.allSatisfy { $0.status == .ok }, "\(seen.filter { $0.status != .ok }.map(\.status))")
        // Each answer came from a version that was active at some moment between its sending
        // and its answer (a request started on a version finishes on it).
        for exchange in seen {
            let activeAtSend = switches.last { $0.0 <= exchange.sent }?.1
            let activatedDuring = switches.filter { $0.0 > exchange.sent && $0.0 <= exchange.answered }.map(\.1)
            #expect(([activeAtSend].compactMap { $0 } + activatedDuring).contains(exchange.version ?? "-"), "\(exchange.version ?? "-") was not active while its request ran")
        }
        await server.stop()
    }

    @Test func theRequestAfterARollbackIsServedByItsTarget() async throws {
        let models = try ModelsDirectory()
        for version in ["1.0.0", "1.1.0"] {
            try FaultBundle.make("m", config: [:], in: models, version: version)
        }
        let server = try await LiveServer(models: models)
        await server.loaded()
        let client = server.client
        let body = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
        #expect(try await client.send(.POST, "/v2/models/m/infer", body: body).headers.first(name: "X-Model-Version") == "1.1.0")
        let clock = ContinuousClock()
        let toEffect = try await clock.measure {
            try server.registry.updateRollout(of: "m") { (state: inout RolloutState, ready: [String]) throws(ModelHostError) -> String in
                try state.rollback(to: nil, reason: "test", ready: ready)
            }
            let next = try await client.send(.POST, "/v2/models/m/infer", body: body)
            #expect(next.headers.first(name: "X-Model-Version") == "1.0.0")
        }
        print("rollback to the first request served by its target: \(toEffect)")
        #expect(toEffect < .seconds(1))
        await server.stop()
    }
}
