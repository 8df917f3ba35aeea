import Foundation
import Gatekeeper
import ModelHostCore
import ModelHostTestKit
import ModelRegistry
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// The operator's rollout routes over HTTP, against two versions of a fault model: which version
/// unversioned requests get (`X-Model-Version`) after each change, and every refusal.
@Suite struct RolloutRoutesTests {
    /// A server with `twins` at 1.0.0 and 1.1.0 (both echo), `solo` at 1.0.0, and `broken`,
    /// whose only version fails to load. After the initial load, `twins` 1.1.0 is active.
    private func server(control: RecordingControl? = nil, admission: (any RequestAdmitting)? = nil) async throws -> LiveServer {
        let models = try ModelsDirectory()
        // The keys test sends many requests in a row: the model's own rate limit stays out of it.
        let limits: [String: Any] = ["requestsPerSecond": 1_000_000, "burst": 1_000_000]
        try FaultBundle.make("twins", in: models, version: "1.0.0", limits: limits)
        try FaultBundle.make("twins", in: models, version: "1.1.0", limits: limits)
        try FaultBundle.make("solo", in: models, version: "1.0.0")
        try FaultBundle.make("broken", config: ["mode": "no-such-mode"], in: models, version: "1.0.0")
        let server = try await LiveServer(models: models, admission: admission, control: control)
        control?.registry.withLock { $0 = server.registry }
        await server.loaded()
        return server
    }

    private func json(_ response: TestHTTPClient.Response) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any] ?? [:]
    }

    /// The version an unversioned request to `model` is served by.
    private func served(_ client: TestHTTPClient, _ model: String = "twins", headers: [(String, String)] = []) async throws -> String? {
        let response = try await client.send(.POST, "/v2/models/\(model)/infer", body: fixtureInferBody, headers: headers)
        #expect(response.status == .ok, "\(response.body)")
        return response.headers.first(name: "X-Model-Version")
    }

    /// `POST /admin/models/{model}/{action}` with `body`.
    private func change(_ client: TestHTTPClient, _ action: String, _ body: String, model: String = "twins") async throws -> TestHTTPClient.Response {
        try await client.send(.POST, "/admin/models/\(model)/\(action)", body: body)
    }

    /// The versions of a model in an answer (the listing's entry, or a control route's), by version.
    private func versions(in model: [String: Any]) -> [String: [String: Any]] {
        var versions: [String: [String: Any]] = [:]
        for entry in model["versions"] as? [[String: Any]] ?? [] {
            versions["\(entry["version"] ?? "")"] = entry
        }
        return versions
    }

    private func listing(_ client: TestHTTPClient) async throws -> [String: [String: Any]] {
        let response = try await client.send(.GET, "/admin/models")
        #expect(response.status == .ok)
        var models: [String: [String: Any]] = [:]
        for model in json(response)["models"] as? [[String: Any]] ?? [] {
            models["\(model["name"] ?? "")"] = model
        }
        return models
    }

    // MARK: The listing

    @Test func theListingShowsEveryVersionWithItsPlaceInTheRollout() async throws {
        let server = try await server()
        let models = try await listing(server.client)
        #expect(Set(models.keys) == ["twins", "solo", "broken"])
        let twins = try #require(models["twins"])
        #expect(twins["active"] as? String == "1.1.0")
        let versions = versions(in: twins)
        #expect(versions["1.0.0"]?["active"] as? Bool == false)
        #expect(versions["1.1.0"]?["active"] as? Bool == true)
        #expect(versions["1.0.0"]?["pinned"] as? Bool == false)
        #expect(versions["1.1.0"]?["state"] as? String == "READY")
        #expect(versions["1.1.0"]?["breaker"] as? String == "closed")
        #expect(versions["1.1.0"]?["canaryPercent"] == nil && versions["1.1.0"]?["splitWeight"] == nil && versions["1.1.0"]?["rolledBack"] == nil)
        let broken = try #require(models["broken"])
        #expect(broken["active"] is NSNull)
        #expect(self.versions(in: broken)["1.0.0"]?["state"] as? String == "UNAVAILABLE")
        #expect((self.versions(in: broken)["1.0.0"]?["reason"] as? String)?.contains("create") == true)
        await server.stop()
    }

    // MARK: Changes

    @Test func promoteRollbackPinAndUnpinChangeWhichVersionUnversionedRequestsGet() async throws {
        let server = try await server()
        let client = server.client
        #expect(try await served(client) == "1.1.0")

        let rolledBack = try await change(client, "rollback", "{}")
        #expect(rolledBack.status == .ok, "\(rolledBack.body)")
        #expect(json(rolledBack)["changed"] as? String == "1.0.0 is active (was 1.1.0, now rolled-back: rolled back by an operator)")
        #expect(json(rolledBack)["active"] as? String == "1.0.0")
        #expect(versions(in: json(rolledBack))["1.1.0"]?["rolledBack"] as? String == "rolled back by an operator")
        #expect(try await served(client) == "1.0.0")
        // A request that names the version rolled back still reaches it.
        let named = try await client.send(.POST, "/v2/models/twins/versions/1.1.0/infer", body: fixtureInferBody)
        #expect(named.status == .ok && named.headers.first(name: "X-Model-Version") == "1.1.0")

        let promoted = try await change(client, "promote", #"{"version": "1.1.0"}"#)
        #expect(json(promoted)["changed"] as? String == "1.1.0 is active (was 1.0.0)")
        #expect(versions(in: json(promoted))["1.1.0"]?["rolledBack"] == nil)
        #expect(try await served(client) == "1.1.0")

        let pinned = try await change(client, "pin", #"{"version": "1.0.0"}"#)
        #expect(json(pinned)["changed"] as? String == "1.0.0 is pinned (was 1.1.0)")
        #expect(versions(in: json(pinned))["1.0.0"]?["pinned"] as? Bool == true)
        #expect(try await served(client) == "1.0.0")

        let unpinned = try await change(client, "unpin", "")
        #expect(json(unpinned)["changed"] as? String == "1.0.0 is no longer pinned")
        #expect(versions(in: json(unpinned))["1.0.0"]?["pinned"] as? Bool == false)
        #expect(try await served(client) == "1.0.0")
        let again = try await change(client, "unpin", "{}")
        #expect(again.status == .badRequest)
        #expect(json(again)["error"] as? String == "no version is pinned")

        let back = try await change(client, "rollback", #"{"to": "1.1.0"}"#)
        #expect(json(back)["changed"] as? String == "1.1.0 is active (was 1.0.0, now rolled-back: rolled back by an operator)")
        #expect(try await served(client) == "1.1.0")
        await server.stop()
    }

    @Test func aCanaryAndASplitSendTheCallerToTheVersionItsBucketGives() async throws {
        let server = try await server()
        let client = server.client
        _ = try await change(client, "promote", #"{"version": "1.0.0"}"#)
        // Without keys the caller is its address; every test request comes from 127.0.0.1.
        let bucket = RolloutState.bucket(of: "127.0.0.1", model: "twins")
        for percent in [1, 30, 99] {
            let canary = try await change(client, "canary", #"{"version": "1.1.0", "percent": \#(percent)}"#)
            #expect(canary.status == .ok, "\(canary.body)")
            #expect(json(canary)["changed"] as? String == "1.1.0 takes \(percent)% of unversioned traffic as a canary")
            #expect(versions(in: json(canary))["1.1.0"]?["canaryPercent"] as? Int == percent)
            #expect(json(canary)["active"] as? String == "1.0.0")
            let expected = bucket < percent * 100 ? "1.1.0" : "1.0.0"
            for _ in 0..<3 {
                #expect(try await served(client) == expected, "bucket \(bucket) at \(percent)%")
            }
        }

        let split = try await change(client, "split", #"{"weights": {"1.1.0": 30, "1.0.0": 70}}"#)
        #expect(split.status == .ok, "\(split.body)")
        #expect(json(split)["changed"] as? String == "split: 1.0.0=70, 1.1.0=30")
        let entries = versions(in: json(split))
        #expect(entries["1.0.0"]?["splitWeight"] as? Int == 70 && entries["1.1.0"]?["splitWeight"] as? Int == 30)
        #expect(entries["1.1.0"]?["canaryPercent"] == nil)
        var state = RolloutState()
        _ = try state.startSplit([.init(version: "1.0.0", weight: 70), .init(version: "1.1.0", weight: 30)], ready: ["1.0.0", "1.1.0"])
        let expected = state.version(forBucket: bucket, ready: ["1.0.0", "1.1.0"])
        for _ in 0..<3 {
            #expect(try await served(client) == expected)
        }

        // A rollback ends the split: everyone is on the version rolled back to.
        _ = try await change(client, "rollback", #"{"to": "1.0.0"}"#)
        #expect(try await served(client) == "1.0.0")
        await server.stop()
    }

    @Test func aCanaryKeepsEachKeyOnOneVersionAndSpreadsKeysOverBoth() async throws {
        var file = KeyFile(path: "/nonexistent/keys.json")
        let keys = try (0..<40).map { try file.create(name: "caller-\($0)", scopes: [.infer, .admin], now: Date()).key }
        let gatekeeper = Gatekeeper(configuration: .init(), keys: KeyRing(records: file.records), clock: ContinuousClock())
        let server = try await server(admission: gatekeeper)
        let client = server.client
        let admin = [("X-API-Key", keys[0].reveal())]
        #expect(try await client.send(.POST, "/admin/models/twins/promote", body: #"{"version": "1.0.0"}"#, headers: admin).status == .ok)
        #expect(try await client.send(.POST, "/admin/models/twins/canary", body: #"{"version": "1.1.0", "percent": 50}"#, headers: admin).status == .ok)
        var seen: Set<String> = []
        for key in keys {
            let expected = RolloutState.bucket(of: key.id, model: "twins") < 5000 ? "1.1.0" : "1.0.0"
            for _ in 0..<2 {
                let version = try await served(client, headers: [("X-API-Key", key.reveal())])
                #expect(version == expected, "key \(key.id)")
                if let version { seen.insert(version) }
            }
        }
        #expect(seen == ["1.0.0", "1.1.0"])
        await server.stop()
    }

    // MARK: Refusals

    @Test func aRollbackWithoutAnEarlierVersionFailsWithAClearMessage() async throws {
        let server = try await server()
        let client = server.client
        let response = try await change(client, "rollback", "{}", model: "solo")
        #expect(response.status == .badRequest)
        #expect(json(response)["code"] as? String == "invalid_request")
        #expect(json(response)["error"] as? String == "there is no earlier ready version to roll back to from 1.0.0; name one with --to")
        let unknown = try await change(client, "rollback", #"{"to": "9.9.9"}"#, model: "solo")
        #expect(unknown.status == .serviceUnavailable)
        #expect(json(unknown)["code"] as? String == "model_not_ready")
        #expect(json(unknown)["error"] as? String == "version 9.9.9 is not ready (ready: 1.0.0)")
        let nothingReady = try await change(client, "rollback", "{}", model: "broken")
        #expect(nothingReady.status == .serviceUnavailable)
        #expect(json(nothingReady)["error"] as? String == "the model has no active version to roll back from")
        // Nothing changed.
        #expect(try await served(client, "solo") == "1.0.0")
        #expect(try await listing(client)["solo"]?["active"] as? String == "1.0.0")
        await server.stop()
    }

    @Test(arguments: [
        "/admin/models/nope/rollback", "/admin/models/nope/promote", "/admin/models/nope/pin", "/admin/models/nope/unpin",
        "/admin/models/nope/canary", "/admin/models/nope/split", "/admin/models/nope/versions/1.0.0/unload",
        "/v2/repository/models/nope/load", "/v2/repository/models/nope/unload",
    ])
    func anUnknownModelIsNotFoundBeforeItsBodyIsRead(path: String) async throws {
        let server = try await server()
        // A body that would be refused: the model is judged first, from the head.
        let response = try await server.client.send(.POST, path, body: "not json")
        #expect(response.status == .notFound)
        #expect(json(response)["code"] as? String == "model_not_found")
        #expect(json(response)["error"] as? String == "model \"nope\" is not known to this server" || path.hasSuffix("/load"), "\(response.body)")
        #expect(response.headers.first(name: "X-Request-ID") != nil)
        await server.stop()
    }

    @Test(arguments: [
        ("promote", #"{"version": "1.1.0", "now": true}"#, 400, #""now" is not a key of this route's body (it takes "version"): send {"version": "1.1.0"}"#),
        ("promote", "", 400, #"the body is not JSON"#),
        ("pin", "{}", 400, #"the body needs "version": send {"version": "1.1.0"}"#),
        ("canary", #"{"version": "1.1.0", "percent": 0}"#, 400, "a canary takes more than 0 and less than 100 percent, not 0%"),
        ("canary", #"{"version": "1.1.0", "percent": 100}"#, 400, "a canary takes more than 0 and less than 100 percent, not 100%"),
        ("canary", #"{"version": "1.1.0", "percent": 10}"#, 400, "1.1.0 is already active; a canary is a version beside the active one"),
        ("split", #"{"weights": {"1.0.0": 100}}"#, 400, "a split needs two or more different versions"),
        ("split", #"{"weights": {"1.0.0": 1, "1.1.0": -1}}"#, 400, "the weight of 1.1.0 must be a positive number"),
        ("promote", #"{"version": "2.0.0"}"#, 503, "version 2.0.0 is not ready (ready: 1.0.0, 1.1.0)"),
        ("split", #"{"weights": {"1.0.0": 1, "3.0.0": 1}}"#, 503, "version 3.0.0 is not ready (ready: 1.0.0, 1.1.0)"),
    ])
    func aBadChangeIsRefusedAndChangesNothing(action: String, body: String, status: Int, message: String) async throws {
        let server = try await server()
        let client = server.client
        let response = try await change(client, action, body)
        #expect(response.status.code == status, "\(response.body)")
        #expect((json(response)["error"] as? String)?.contains(message) == true, "\(response.body)")
        #expect(json(response)["code"] as? String == (status == 400 ? "invalid_request" : "model_not_ready"))
        #expect(try await served(client) == "1.1.0")
        let twins = try await listing(client)["twins"]
        #expect(versions(in: twins ?? [:]).values.allSatisfy { $0["canaryPercent"] == nil && $0["splitWeight"] == nil && $0["pinned"] as? Bool == false })
        await server.stop()
    }

    // MARK: Load and unload

    @Test func loadSaysWhetherTheModelIsLoaded() async throws {
        let server = try await server()
        let client = server.client
        let loaded = try await client.send(.POST, "/v2/repository/models/twins/load")
        #expect(loaded.status == .ok)
        #expect(json(loaded)["changed"] as? String == "nothing to do: twins is loaded (ready: 1.0.0, 1.1.0); bundles are loaded from the models directory")
        #expect(json(loaded)["name"] as? String == "twins")
        #expect(try await client.send(.POST, "/v2/repository/models/twins/load", body: #"{"parameters": {}}"#).status == .ok)

        let broken = try await client.send(.POST, "/v2/repository/models/broken/load", body: "{}")
        #expect(broken.status == .serviceUnavailable)
        #expect(json(broken)["code"] as? String == "model_not_ready")
        #expect((json(broken)["error"] as? String)?.hasPrefix("model \"broken\" has no ready version (1.0.0 failed: ") == true, "\(broken.body)")

        let unknown = try await client.send(.POST, "/v2/repository/models/nope/load")
        #expect(unknown.status == .notFound)
        #expect((json(unknown)["error"] as? String)?.contains("adding its bundle to the models directory (<models>/nope/<version>/)") == true)

        let parameters = try await client.send(.POST, "/v2/repository/models/twins/load", body: #"{"parameters": {"config": "{}"}}"#)
        #expect(parameters.status == .badRequest)
        #expect(json(parameters)["error"] as? String == #"load takes no parameters on this server (got "config"); bundles and their settings come from the models directory"#)
        await server.stop()
    }

    @Test func withoutTheWatcherUnloadingIsUnavailableAndSaysWhy() async throws {
        let server = try await server()
        let client = server.client
        for path in ["/admin/models/twins/versions/1.0.0/unload", "/v2/repository/models/twins/unload"] {
            let response = try await client.send(.POST, path)
            #expect(response.status == .serviceUnavailable)
            #expect(json(response)["code"] as? String == "unavailable")
            #expect((json(response)["error"] as? String)?.hasPrefix("unloading needs the models directory watcher") == true, "\(response.body)")
            #expect(response.headers.first(name: "Retry-After") == nil)
        }
        let unknown = try await client.send(.POST, "/admin/models/twins/versions/9.9.9/unload")
        #expect(unknown.status == .notFound)
        #expect(json(unknown)["error"] as? String == #"model "twins" has no version "9.9.9" (known: 1.0.0, 1.1.0)"#)
        #expect(try await listing(client)["twins"].map { versions(in: $0).count } == 2)
        await server.stop()
    }

    @Test func unloadGoesToTheControlUnlessItWouldLeaveNothingToServe() async throws {
        let control = RecordingControl()
        let server = try await server(control: control)
        let client = server.client

        let last = try await client.send(.POST, "/admin/models/solo/versions/1.0.0/unload", body: "{}")
        #expect(last.status == .badRequest)
        #expect(json(last)["error"] as? String == "unloading 1.0.0 would leave solo with no ready version to serve; to take the whole model away, POST /v2/repository/models/solo/unload")

        _ = try await change(client, "pin", #"{"version": "1.0.0"}"#)
        let pinned = try await client.send(.POST, "/admin/models/twins/versions/1.0.0/unload")
        #expect(pinned.status == .badRequest)
        #expect(json(pinned)["error"] as? String == "1.0.0 is pinned; unpin it first (POST /admin/models/twins/unpin)")
        #expect(control.calls.value.isEmpty)
        let badBody = try await client.send(.POST, "/admin/models/twins/versions/1.1.0/unload", body: #"{"force": true}"#)
        #expect(badBody.status == .badRequest)

        _ = try await change(client, "unpin", "{}")
        let unloaded = try await client.send(.POST, "/admin/models/twins/versions/1.0.0/unload")
        #expect(unloaded.status == .ok, "\(unloaded.body)")
        #expect(json(unloaded)["changed"] as? String == "twins 1.0.0 is unloaded")
        #expect(Set(versions(in: json(unloaded)).keys) == ["1.1.0"])
        #expect(json(unloaded)["active"] as? String == "1.1.0")
        #expect(try await served(client) == "1.1.0")

        // A version that failed may go, even with nothing else ready.
        #expect(try await client.send(.POST, "/admin/models/broken/versions/1.0.0/unload").status == .ok)
        let model = try await client.send(.POST, "/v2/repository/models/solo/unload")
        #expect(model.status == .ok, "\(model.body)")
        #expect(json(model)["changed"] as? String == "solo: every version is unloaded")
        #expect((json(model)["versions"] as? [Any])?.isEmpty == true)
        #expect(control.calls.value == ["twins 1.0.0", "broken 1.0.0", "solo every"])
        #expect(try await client.send(.POST, "/v2/models/solo/infer", body: fixtureInferBody).status == .notFound)
        await server.stop()
    }
}

/// A ``ModelControl`` that records each unload and removes what it names from the registry.
final class RecordingControl: ModelControl {
    /// The registry to remove versions from, set once the server has one.
    let registry = LockedBox<ModelRegistry?>(nil)
    /// Each unload, as `model version` (`model every` for a whole model).
    let calls = LockedBox<[String]>([])

    func unload(model: String, version: String?) async throws(ModelHostError) -> String {
        calls.withLock { $0.append("\(model) \(version ?? "every")") }
        guard let registry = registry.value else { throw ModelHostError(.internal, "no registry") }
        let versions = version.map { [$0] } ?? (registry.snapshot.models[model] ?? []).map(\.version)
        for version in versions { registry.remove(name: model, version: version) }
        return version.map { "\(model) \($0) is unloaded" } ?? "\(model): every version is unloaded"
    }
}
