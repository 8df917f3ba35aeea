import CircuitBreaker
import Foundation
import ModelHostTestKit
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// A version's breaker seen and set over HTTP: the fast refusal, `GET /health`, the
/// repository index and the operator's override route.
@Suite struct BreakerRoutesTests {
    /// A server with the echo example and `failing`, a fixture failing every call, whose
    /// breaker opens after two failures for a minute.
    private func server() async throws -> (LiveServer, infers: @Sendable () -> Int) {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let source = FixtureSource.make(infer: #"mh_error_set(error, "broken"); return MH_ERROR_INTERNAL;"#)
        let directory = try await FixtureBundle.make(
            "failing", source: source, in: models, sections: ["breaker": ["consecutiveFailures": 2, "openDurationMs": 60_000]]
        )
        let server = try await LiveServer(models: models, breakers: BreakerRegistry())
        await server.loaded()
        return (server, try FixtureBundle.counter("fixture_infers", inLibrary: directory + "/libfailing.so"))
    }

    private func json(_ response: TestHTTPClient.Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
    }

    private func health(_ client: TestHTTPClient) async throws -> (status: String?, versions: [String: [String: Any]]) {
        let body = json(try await client.send(.GET, "/health"))
        var versions: [String: [String: Any]] = [:]
        for entry in body["models"] as? [[String: Any]] ?? [] {
            versions["\(entry["name"] ?? "")"] = entry
        }
        return (body["status"] as? String, versions)
    }

    @Test func anOpenBreakerRefusesAtOnceWithRetryAfterAndShowsInHealthAndTheIndex() async throws {
        let (server, infers) = try await server()
        let client = server.client
        for _ in 0..<2 {
            #expect(try await client.send(.POST, "/v2/models/failing/infer", body: fixtureInferBody).status == .internalServerError)
        }
        let refused = try await client.send(.POST, "/v2/models/failing/infer", body: fixtureInferBody)
        #expect(refused.status == .serviceUnavailable)
        #expect(json(refused)["code"] as? String == "unavailable")
        #expect(refused.headers.first(name: "Retry-After").flatMap(Int.init).map { $0 > 50 && $0 <= 60 } == true)
        #expect(refused.headers.first(name: "X-Request-ID") != nil)
        #expect(infers() == 2)
        // The other model is untouched.
        #expect(try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody).status == .ok)

        let (status, versions) = try await health(client)
        #expect(status == "degraded")
        #expect((versions["failing"]?["breaker"] as? [String: Any])?["state"] as? String == "open")
        #expect((versions["failing"]?["breaker"] as? [String: Any])?["opens"] as? Int == 1)
        #expect((versions["echo"]?["breaker"] as? [String: Any])?["state"] as? String == "closed")
        #expect(versions["echo"]?["state"] as? String == "READY")
        #expect(versions["echo"]?["inFlight"] as? Int == 0)
        #expect(versions["echo"]?["queued"] as? Int == 0)

        let index = try await client.send(.POST, "/v2/repository/index")
        let entries = (try? JSONSerialization.jsonObject(with: Data(index.body.utf8))) as? [[String: Any]] ?? []
        #expect(entries.first { $0["name"] as? String == "failing" }?["breaker"] as? String == "open")
        await server.stop()
    }

    @Test func anOperatorForcesABreakerOpenClosesItAndDisablesIt() async throws {
        let (server, infers) = try await server()
        let client = server.client
        let route = "/admin/models/echo/versions/1.0.0/breaker"
        let forced = try await client.send(.POST, route, body: #"{"state": "forced-open"}"#)
        #expect(forced.status == .ok)
        #expect((json(forced)["breaker"] as? [String: Any])?["state"] as? String == "forced-open")
        let refused = try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody)
        #expect(refused.status == .serviceUnavailable)
        #expect(refused.body.contains("forced open"))
        #expect(try await health(client).status == "degraded")
        #expect(try await client.send(.POST, route, body: #"{"state": "closed"}"#).status == .ok)
        #expect(try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody).status == .ok)

        // Disabled, a failing version's calls all go through.
        #expect(try await client.send(.POST, "/admin/models/failing/versions/1.0.0/breaker", body: #"{"state": "disabled"}"#).status == .ok)
        for _ in 0..<4 {
            #expect(try await client.send(.POST, "/v2/models/failing/infer", body: fixtureInferBody).status == .internalServerError)
        }
        #expect(infers() == 4)
        await server.stop()
    }

    @Test(arguments: [
        (#"{"state": "open"}"#, "is not a breaker state an operator can set"),
        (#"{"state": "closed", "extra": 1}"#, "nothing else"),
        (#"{"mode": "closed"}"#, "and nothing else"),
        ("not json", "not JSON"),
        ("", "not JSON"),
    ])
    func aBadOverrideNamesWhatIsAllowed(body: String, fragment: String) async throws {
        let (server, _) = try await server()
        let response = try await server.client.send(.POST, "/admin/models/echo/versions/1.0.0/breaker", body: body)
        #expect(response.status == .badRequest)
        #expect(json(response)["code"] as? String == "invalid_request")
        #expect(response.body.contains(fragment), "\(response.body)")
        await server.stop()
    }

    @Test func versionsOfOneModelHaveBreakersOfTheirOwn() async throws {
        let models = try ModelsDirectory()
        try FaultBundle.make("twins", config: ["mode": "fail", "failWith": "internal"], in: models, version: "1.0.0", breaker: ["consecutiveFailures": 1])
        try FaultBundle.make("twins", config: [:], in: models, version: "2.0.0", breaker: ["consecutiveFailures": 1])
        let server = try await LiveServer(models: models, breakers: BreakerRegistry())
        await server.loaded()
        let client = server.client
        let body = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
        #expect(try await client.send(.POST, "/v2/models/twins/versions/1.0.0/infer", body: body).status == .internalServerError)
        #expect(try await client.send(.POST, "/v2/models/twins/versions/1.0.0/infer", body: body).status == .serviceUnavailable)
        // The other version, and the active route to it, are untouched.
        #expect(try await client.send(.POST, "/v2/models/twins/versions/2.0.0/infer", body: body).status == .ok)
        #expect(try await client.send(.POST, "/v2/models/twins/infer", body: body).status == .ok)
        let index = try await client.send(.POST, "/v2/repository/index")
        let entries = (try? JSONSerialization.jsonObject(with: Data(index.body.utf8))) as? [[String: Any]] ?? []
        let states = Dictionary(uniqueKeysWithValues: entries.compactMap { entry in
            (entry["version"] as? String).map { ($0, entry["breaker"] as? String) }
        })
        #expect(states == ["1.0.0": "open", "2.0.0": "closed"])
        await server.stop()
    }

    @Test func anOverrideOfAnUnknownVersionIsNotFound() async throws {
        let (server, _) = try await server()
        let response = try await server.client.send(.POST, "/admin/models/echo/versions/9.9.9/breaker", body: #"{"state": "closed"}"#)
        #expect(response.status == .notFound)
        #expect(response.body.contains("9.9.9"))
        await server.stop()
    }
}
