import Foundation
import Gatekeeper
import ModelHostTestKit
import ModelRegistry
import Scheduler
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// Authentication, authorization, rate limits and validation over real HTTP.
@Suite struct AuthorizationTests {
    /// The keys the suite's server knows, in the clear for the client side.
    struct Keys: Sendable {
        var good: String
        var inferOnly: String
        var adminOnly: String
        var intentOnly: String
        var revoked: String
        var limited: String
        var unknown: String
    }

    private static let server = Task<(port: Int, keys: Keys), any Error> {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        try models.addExample("intent-classifier")
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()

        var file = KeyFile(path: "/nonexistent/keys.json")
        let now = Date()
        let good = try file.create(name: "good", scopes: [.infer, .admin], now: now).key
        let inferOnly = try file.create(name: "infer", scopes: [.infer], now: now).key
        let adminOnly = try file.create(name: "admin", scopes: [.admin], now: now).key
        let intentOnly = try file.create(name: "intent", scopes: [.infer, .admin], models: ["intent-classifier"], now: now).key
        let revoked = try file.create(name: "revoked", scopes: [.infer, .admin], now: now).key
        try file.revoke(id: revoked.id, now: now)
        let limited = try file.create(name: "limited", scopes: [.infer], rateLimit: KeyRateLimit(requests: 2, windowSeconds: 60, burst: 2), now: now).key
        // A well-formed key with a valid checksum that no file holds.
        let unknown = APIKey.generate()

        var configuration = Gatekeeper<ContinuousClock>.Configuration()
        // The matrix sends many bad keys from one address; the address limit has its own test.
        configuration.failedAuthenticationLimit = RateLimit(quota: 100_000, window: .seconds(1), burst: 100_000, policyName: "auth-failures")!
        let gatekeeper = Gatekeeper(configuration: configuration, keys: KeyRing(records: file.records), clock: ContinuousClock())

        var http = HTTPServer.Configuration()
        http.port = 0
        let server = try await HTTPServer.bind(configuration: http, service: ModelHostService(registry: registry, admission: gatekeeper))
        Task { [models] in
            withExtendedLifetime(models) {}
            try await server.run()
        }
        let keys = Keys(
            good: good.reveal(), inferOnly: inferOnly.reveal(), adminOnly: adminOnly.reveal(), intentOnly: intentOnly.reveal(),
            revoked: revoked.reveal(), limited: limited.reveal(), unknown: unknown.reveal()
        )
        return (server.port, keys)
    }

    enum Credential: String, CaseIterable, Sendable {
        case none, malformed, unknown, revoked, withoutScope, withoutModel, good
    }

    struct Call: Sendable, CustomTestStringConvertible {
        var method: HTTPMethod
        var path: String
        var body: String?
        /// The scope the route needs: nil for probes.
        var scope: String?
        var namesModel: Bool
        /// What a good key gets: the route's own answer once admitted.
        var admitted: HTTPResponseStatus = .ok

        var testDescription: String { "\(method) \(path)" }
    }

    static let echoInput = #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}]}"#

    static let calls: [Call] = [
        Call(method: .GET, path: "/v2/health/live", scope: nil, namesModel: false),
        Call(method: .GET, path: "/v2/health/ready", scope: nil, namesModel: false),
        Call(method: .GET, path: "/v2", scope: "infer", namesModel: false),
        Call(method: .GET, path: "/v2/models/echo", scope: "infer", namesModel: true),
        Call(method: .GET, path: "/v2/models/echo/versions/1.0.0", scope: "infer", namesModel: true),
        Call(method: .GET, path: "/v2/models/echo/ready", scope: "infer", namesModel: true),
        Call(method: .GET, path: "/v2/models/echo/versions/1.0.0/ready", scope: "infer", namesModel: true),
        Call(method: .POST, path: "/v2/models/echo/infer", body: echoInput, scope: "infer", namesModel: true),
        Call(method: .POST, path: "/v2/models/echo/versions/1.0.0/infer", body: echoInput, scope: "infer", namesModel: true),
        Call(method: .POST, path: "/predict/echo", body: #"{"input0": [1, 2]}"#, scope: "infer", namesModel: true),
        Call(method: .POST, path: "/v2/repository/index", scope: "admin", namesModel: false),
        Call(method: .GET, path: "/health", scope: "infer", namesModel: false),
        Call(method: .POST, path: "/admin/models/echo/versions/1.0.0/breaker", body: #"{"state": "closed"}"#, scope: "admin", namesModel: true),
        // The rollout routes: admin scope, on the model they name; the listing names none.
        Call(method: .GET, path: "/admin/models", scope: "admin", namesModel: false),
        Call(method: .POST, path: "/admin/models/echo/promote", body: #"{"version": "1.0.0"}"#, scope: "admin", namesModel: true),
        Call(method: .POST, path: "/admin/models/echo/pin", body: #"{"version": "1.0.0"}"#, scope: "admin", namesModel: true),
        // Echo has one version: nothing to roll back to, nothing beside it to canary.
        Call(method: .POST, path: "/admin/models/echo/rollback", body: "{}", scope: "admin", namesModel: true, admitted: .badRequest),
        Call(method: .POST, path: "/admin/models/echo/canary", body: #"{"version": "1.0.0", "percent": 5}"#, scope: "admin", namesModel: true, admitted: .badRequest),
        Call(method: .POST, path: "/admin/models/echo/split", body: #"{"weights": {"1.0.0": 1}}"#, scope: "admin", namesModel: true, admitted: .badRequest),
        Call(method: .POST, path: "/v2/repository/models/echo/load", scope: "admin", namesModel: true),
        // No model control is wired in this server.
        Call(method: .POST, path: "/v2/repository/models/echo/unload", scope: "admin", namesModel: true, admitted: .serviceUnavailable),
        Call(method: .POST, path: "/admin/models/echo/versions/1.0.0/unload", scope: "admin", namesModel: true, admitted: .badRequest),
    ]

    private static func key(_ credential: Credential, for call: Call, _ keys: Keys) -> String? {
        switch credential {
        case .none: nil
        case .malformed: "mh_not-a-key"
        case .unknown: keys.unknown
        case .revoked: keys.revoked
        case .withoutScope: call.scope == "admin" ? keys.inferOnly : keys.adminOnly
        case .withoutModel: keys.intentOnly
        case .good: keys.good
        }
    }

    private static func expectedStatus(_ credential: Credential, for call: Call) -> HTTPResponseStatus {
        guard call.scope != nil else { return .ok }
        switch credential {
        case .none, .malformed, .unknown, .revoked: return .unauthorized
        case .withoutScope: return .forbidden
        case .withoutModel: return call.namesModel ? .forbidden : call.admitted
        case .good: return call.admitted
        }
    }

    @Test("every route, every kind of credential", arguments: calls, Credential.allCases)
    func authorizationMatrix(call: Call, credential: Credential) async throws {
        let (port, keys) = try await Self.server.value
        let client = TestHTTPClient(port: port)
        let headers = Self.key(credential, for: call, keys).map { [("X-API-Key", $0)] } ?? []
        let response = try await client.send(call.method, call.path, body: call.body, headers: headers)
        let expected = Self.expectedStatus(credential, for: call)
        #expect(response.status == expected, "\(response.body)")
        if expected == .unauthorized {
            #expect(response.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer realm=\"modelhost\"") == true)
            #expect(response.body.contains("\"code\":\"unauthenticated\""))
        }
        if expected == .forbidden {
            #expect(response.body.contains("\"code\":\"forbidden\""))
        }
        // The wrong method is 405 whatever the credential.
        let wrong: HTTPMethod = call.method == .GET ? .POST : .GET
        let refused = try await client.send(wrong, call.path, body: wrong == .POST ? "{}" : nil, headers: headers)
        #expect(refused.status == .methodNotAllowed)
    }

    @Test func bearerTokensAreAcceptedLikeAPIKeys() async throws {
        let (port, keys) = try await Self.server.value
        let client = TestHTTPClient(port: port)
        let response = try await client.send(.GET, "/v2/models/echo", headers: [("Authorization", "Bearer \(keys.good)")])
        #expect(response.status == .ok)
        let wrongScheme = try await client.send(.GET, "/v2/models/echo", headers: [("Authorization", "Basic \(keys.good)")])
        #expect(wrongScheme.status == .unauthorized)
    }

    @Test func aKeysOwnLimitAnswers429WithTheIETFFields() async throws {
        let (port, keys) = try await Self.server.value
        let client = TestHTTPClient(port: port)
        var statuses: [HTTPResponseStatus] = []
        var last: TestHTTPClient.Response?
        for _ in 0..<3 {
            let response = try await client.send(.POST, "/v2/models/echo/infer", body: Self.echoInput, headers: [("X-API-Key", keys.limited)])
            statuses.append(response.status)
            last = response
        }
        #expect(statuses == [.ok, .ok, .tooManyRequests])
        let refused = try #require(last)
        #expect(refused.body.contains("\"code\":\"rate_limited\""))
        let retryAfter = try #require(refused.headers.first(name: "Retry-After").flatMap(Int.init))
        #expect(retryAfter >= 1 && retryAfter <= 30)
        #expect(refused.headers.first(name: "RateLimit-Policy")?.contains(";q=2;w=60") == true)
        #expect(refused.headers.first(name: "RateLimit")?.contains(";r=0;t=") == true)
    }

    @Test func refusedInputsNameTheInputAndRule() async throws {
        let (port, keys) = try await Self.server.value
        let client = TestHTTPClient(port: port)
        let empty = try await client.send(.POST, "/predict/intent-classifier", body: #"{"query": ""}"#, headers: [("X-API-Key", keys.good)])
        #expect(empty.status == .badRequest)
        #expect(empty.body.contains("\"code\":\"validation_failed\""))
        #expect(empty.body.contains("input \\\"query\\\""))
        let nan = try await client.send(.POST, "/v2/models/echo/infer", body: #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1e39]}]}"#, headers: [("X-API-Key", keys.good)])
        #expect(nan.status == .badRequest)
    }

    @Test func longQueriesAreTruncatedAndReported() async throws {
        let (port, keys) = try await Self.server.value
        let client = TestHTTPClient(port: port)
        let query = "What is my balance? " + String(repeating: "é", count: 400)
        let body = #"{"inputs": [{"name": "query", "shape": [1], "datatype": "BYTES", "data": ["\#(query)"]}]}"#
        let response = try await client.send(.POST, "/v2/models/intent-classifier/infer", body: body, headers: [("X-API-Key", keys.good)])
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "X-Input-Truncated") == "query[0]=\(query.utf8.count)")
        #expect(response.body.contains("\"truncated_inputs\":\"query[0]=\(query.utf8.count)\""))
        let predicted = try await client.send(.POST, "/predict/intent-classifier", body: #"{"query": "\#(query)"}"#, headers: [("X-API-Key", keys.good)])
        #expect(predicted.status == .ok)
        #expect(predicted.headers.first(name: "X-Input-Truncated") == "query[0]=\(query.utf8.count)")
    }

    @Test func failedAuthenticationsFromOneAddressAreLimited() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        var file = KeyFile(path: "/nonexistent/keys.json")
        let good = try file.create(name: "good", scopes: [.infer], now: Date()).key
        var configuration = Gatekeeper<ContinuousClock>.Configuration()
        configuration.failedAuthenticationLimit = RateLimit(quota: 3, window: .seconds(60), burst: 3, policyName: "auth-failures")!
        let gatekeeper = Gatekeeper(configuration: configuration, keys: KeyRing(records: file.records), clock: ContinuousClock())
        var http = HTTPServer.Configuration()
        http.port = 0
        let server = try await HTTPServer.bind(configuration: http, service: ModelHostService(registry: registry, admission: gatekeeper))
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let client = TestHTTPClient(port: server.port)

        for _ in 0..<3 {
            let guess = try await client.send(.GET, "/v2/models/echo", headers: [("X-API-Key", APIKey.generate().reveal())])
            #expect(guess.status == .unauthorized)
        }
        // Locked out, even with the right key, until the window refills.
        let locked = try await client.send(.GET, "/v2/models/echo", headers: [("X-API-Key", good.reveal())])
        #expect(locked.status == .tooManyRequests)
        #expect(locked.headers.first(name: "Retry-After") != nil)
        #expect(locked.headers.first(name: "RateLimit-Policy")?.hasPrefix("\"auth-failures\"") == true)
        // Probes stay open.
        let live = try await client.send(.GET, "/v2/health/live")
        #expect(live.status == .ok)
    }
}
