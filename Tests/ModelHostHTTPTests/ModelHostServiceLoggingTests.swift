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
}
