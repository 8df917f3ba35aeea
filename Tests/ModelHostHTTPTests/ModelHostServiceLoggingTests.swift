import Foundation
import Gatekeeper
import InMemoryLogging
import Logging
import ModelHostTestKit
import ModelRegistry
import Scheduler
import NIOCore
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// What the service logs about refusals: the key id and the rule, never the content or the key.
@Suite struct ModelHostServiceLoggingTests {
    @Test func refusalsAreLoggedByKeyIDAndRuleOnly() async throws {
        let models = try ModelsDirectory()
        try models.addExample("intent-classifier")
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        var file = KeyFile(path: "/nonexistent/keys.json")
        let key = try file.create(name: "logging", scopes: [.infer], now: Date()).key
        let gatekeeper = Gatekeeper(keys: KeyRing(records: file.records), clock: ContinuousClock())
        let handler = InMemoryLogHandler()
        let service = ModelHostService(registry: registry, admission: gatekeeper, logger: Logger(label: "test", factory: { _ in handler }))

        let secret = "SECRET-CONTENT-7f3a"
        let body = #"{"query": "\#(secret)\u0000"}"#
        let refused = await service.respond(to: HTTPRequest(
            method: .POST, path: "/predict/intent-classifier", headers: ["X-API-Key": key.reveal()],
            body: ByteBuffer(string: body), clientAddress: "192.0.2.7"
        ))
        #expect(refused.status == .badRequest)

        let guess = APIKey.generate().reveal()
        let unauthenticated = await service.respond(to: HTTPRequest(
            method: .POST, path: "/predict/intent-classifier", headers: ["X-API-Key": guess],
            body: ByteBuffer(string: #"{"query": "hello"}"#), clientAddress: "192.0.2.7"
        ))
        #expect(unauthenticated.status == .unauthorized)

        let entries = handler.entries
        let inputEntry = try #require(entries.first { $0.message.description == "input refused" })
        #expect(inputEntry.metadata["key"]?.description == key.id)
        #expect(inputEntry.metadata["rule"]?.description.contains("input \"query\"") == true)
        #expect(entries.contains { $0.message.description == "refused" && $0.metadata["code"]?.description == "unauthenticated" })
        for entry in entries {
            let text = entry.message.description + entry.metadata.description
            #expect(!text.contains(secret))
            #expect(!text.contains(key.reveal()))
            #expect(!text.contains(guess))
        }
    }

    @Test func aPluginsRefusalIsLoggedWithoutItsMessageAndAFailureWithItsRequest() async throws {
        let models = try ModelsDirectory()
        try await FixtureBundle.make("quoting", source: FixtureSource.make(infer: #"mh_error_set(error, "amount 9000.00 at 03:00 is odd"); return MH_ERROR_INVALID_INPUT;"#), in: models)
        try await FixtureBundle.make("failing", source: FixtureSource.make(infer: #"mh_error_set(error, "weights corrupt"); return MH_ERROR_INTERNAL;"#), in: models)
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        let handler = InMemoryLogHandler()
        let service = ModelHostService(registry: registry, logger: Logger(label: "test", factory: { _ in handler }))
        let body = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#

        let refused = await service.respond(to: HTTPRequest(method: .POST, path: "/v2/models/quoting/infer", headers: ["X-Request-ID": "req-refused"], body: ByteBuffer(string: body)))
        #expect(refused.status == .badRequest)
        // The caller sees the plugin's message; the log never does.
        #expect(String(buffer: refused.body).contains("amount 9000.00"))
        let failed = await service.respond(to: HTTPRequest(method: .POST, path: "/v2/models/failing/infer", headers: ["X-Request-ID": "req-failed"], body: ByteBuffer(string: body)))
        #expect(failed.status == .internalServerError)

        let entries = handler.entries
        let refusal = try #require(entries.first { $0.message.description == "plugin refused the input" })
        #expect(refusal.metadata["model"]?.description == "quoting")
        #expect(refusal.metadata["request"]?.description == "req-refused")
        for entry in entries {
            #expect(!(entry.message.description + entry.metadata.description).contains("9000"))
        }
        let failure = try #require(entries.first { $0.message.description == "plugin call failed" })
        #expect(failure.metadata["model"]?.description == "failing")
        #expect(failure.metadata["version"]?.description == "1.0.0")
        #expect(failure.metadata["request"]?.description == "req-failed")
        #expect(failure.metadata["code"]?.description == "plugin_error")
    }
}
