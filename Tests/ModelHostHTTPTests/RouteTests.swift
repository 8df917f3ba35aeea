import NIOHTTP1
import Testing

@testable import ModelHostHTTP

@Suite struct RouteTests {
    @Test(arguments: [
        (HTTPMethod.GET, "/v2/health/live", Route.serverLive),
        (.GET, "/v2/health/ready", .serverReady),
        (.GET, "/v2", .serverMetadata),
        (.GET, "/v2/", .serverMetadata),
        (.GET, "/v2/models/echo", .modelMetadata(name: "echo", version: nil)),
        (.GET, "/v2/models/echo/versions/1.2.0", .modelMetadata(name: "echo", version: "1.2.0")),
        (.GET, "/v2/models/echo/ready", .modelReady(name: "echo", version: nil)),
        (.GET, "/v2/models/echo/versions/1.0.0/ready", .modelReady(name: "echo", version: "1.0.0")),
        (.POST, "/v2/models/echo/infer", .infer(name: "echo", version: nil)),
        (.POST, "/v2/models/echo/versions/1.0.0/infer", .infer(name: "echo", version: "1.0.0")),
        (.POST, "/v2/repository/index", .repositoryIndex),
        (.POST, "/predict/intent-classifier", .predict(name: "intent-classifier")),
        (.GET, "/v1/models/intent-classifier", .v1Model(name: "intent-classifier")),
        (.GET, "/v1/models/echo/", .v1Model(name: "echo")),
        (.POST, "/v1/models/intent-classifier:predict", .v1Predict(name: "intent-classifier")),
        (.POST, "/v1/models/a:b:predict", .v1Predict(name: "a:b")),
        (.GET, "/health", .health),
        (.POST, "/admin/models/echo/versions/1.0.0/breaker", .breaker(name: "echo", version: "1.0.0")),
        (.GET, "/admin/models", .adminModels),
        (.GET, "/admin/models/", .adminModels),
        (.POST, "/admin/models/echo/rollback", .rollout(name: "echo", action: .rollback)),
        (.POST, "/admin/models/echo/promote", .rollout(name: "echo", action: .promote)),
        (.POST, "/admin/models/echo/pin", .rollout(name: "echo", action: .pin)),
        (.POST, "/admin/models/echo/unpin", .rollout(name: "echo", action: .unpin)),
        (.POST, "/admin/models/echo/canary", .rollout(name: "echo", action: .canary)),
        (.POST, "/admin/models/echo/split", .rollout(name: "echo", action: .split)),
        (.POST, "/admin/models/models/split", .rollout(name: "models", action: .split)),
        (.POST, "/admin/models/echo/versions/1.0.0/unload", .unloadVersion(name: "echo", version: "1.0.0")),
        (.POST, "/v2/repository/models/echo/load", .repositoryLoad(name: "echo")),
        (.POST, "/v2/repository/models/echo/unload", .repositoryUnload(name: "echo")),
    ])
    func routesKnownPaths(method: HTTPMethod, path: String, expected: Route) {
        #expect(Route(method: method, path: path) == expected)
    }

    @Test(arguments: [
        "/", "/v1", "/v1/models", "/v1/models/echo/extra", "/v1/models/echo:explain", "/v1/models/echo:", "/v1/models/:predict",
        "/v1/models/echo:predict/x", "/v1/echo:predict", "/v2/models", "/v2/models/echo/versions", "/v2/models/echo/explain", "/predict", "/predict/a/b", "/v2/health",
        "/health/x", "/admin", "/admin/models/echo/breaker", "/admin/models/echo/versions/1.0.0", "/admin/models/echo/versions/1.0.0/breaker/x",
        "/admin/models/echo", "/admin/models/echo/retire", "/admin/models/echo/Rollback", "/admin/models/echo/rollback/x", "/admin/keys",
        "/admin/models/echo/versions/1.0.0/load", "/admin/models/echo/pins/1.0.0/unload", "/v2/repository/models/echo",
        "/v2/repository/models/echo/reload", "/v2/repository/models/echo/load/x", "/v2/repository/echo/load",
    ])
    func unknownPathsAreNotFound(path: String) {
        #expect(Route(method: .GET, path: path) == .notFound)
        #expect(Route(method: .POST, path: path) == .notFound)
    }

    @Test func wrongMethodNamesTheAllowedOne() {
        #expect(Route(method: .GET, path: "/v2/models/echo/infer") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .POST, path: "/v2/health/live") == .methodNotAllowed(allowed: [.GET]))
        #expect(Route(method: .DELETE, path: "/v2/repository/index") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .GET, path: "/v1/models/echo:predict") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .POST, path: "/v1/models/echo") == .methodNotAllowed(allowed: [.GET]))
        #expect(Route(method: .POST, path: "/health") == .methodNotAllowed(allowed: [.GET]))
        #expect(Route(method: .GET, path: "/admin/models/echo/versions/1.0.0/breaker") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .POST, path: "/admin/models") == .methodNotAllowed(allowed: [.GET]))
        #expect(Route(method: .GET, path: "/admin/models/echo/rollback") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .DELETE, path: "/admin/models/echo/versions/1.0.0/unload") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .GET, path: "/v2/repository/models/echo/load") == .methodNotAllowed(allowed: [.POST]))
    }

    @Test func controlRoutesAreAdminOnTheModelTheyNameAndResolveNoVersion() {
        let control: [Route] = [
            .rollout(name: "echo", action: .pin), .unloadVersion(name: "echo", version: "1.0.0"),
            .repositoryLoad(name: "echo"), .repositoryUnload(name: "echo"),
        ]
        for route in control {
            #expect(route.target == .admin(model: "echo"), "\(route)")
            #expect(route.controlledModel == "echo", "\(route)")
            #expect(route.resolvedVersion == nil, "\(route)")
        }
        // The listing names no model, so a model-restricted admin key may read it.
        #expect(Route.adminModels.target == .admin(model: nil))
        #expect(Route.adminModels.controlledModel == nil)
        #expect(Route.breaker(name: "echo", version: "1.0.0").controlledModel == nil)
        #expect(Route.infer(name: "echo", version: nil).controlledModel == nil)
    }

    @Test func healthIsMetadataAndBreakerOverridesAreAdmin() {
        #expect(Route.health.target == .metadata(model: nil))
        #expect(Route.breaker(name: "echo", version: "1.0.0").target == .admin(model: "echo"))
        #expect(Route.repositoryIndex.target == .admin(model: nil))
        #expect(Route.breaker(name: "echo", version: "1.0.0").resolvedVersion! == ("echo", "1.0.0"))
        #expect(Route.health.resolvedVersion == nil)
    }

    @Test func kserveV1RoutesAreAdmittedAsMetadataAndInference() {
        #expect(Route.v1Model(name: "echo").target == .metadata(model: "echo"))
        #expect(Route.v1Predict(name: "echo").target == .inference(model: "echo", version: nil))
        #expect(Route.predict(name: "echo").target == .inference(model: "echo", version: nil))
    }
}
