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
    ])
    func routesKnownPaths(method: HTTPMethod, path: String, expected: Route) {
        #expect(Route(method: method, path: path) == expected)
    }

    @Test(arguments: ["/", "/v1/models/echo", "/v2/models", "/v2/models/echo/versions", "/v2/models/echo/explain", "/predict", "/predict/a/b", "/v2/health"])
    func unknownPathsAreNotFound(path: String) {
        #expect(Route(method: .GET, path: path) == .notFound)
        #expect(Route(method: .POST, path: path) == .notFound)
    }

    @Test func wrongMethodNamesTheAllowedOne() {
        #expect(Route(method: .GET, path: "/v2/models/echo/infer") == .methodNotAllowed(allowed: [.POST]))
        #expect(Route(method: .POST, path: "/v2/health/live") == .methodNotAllowed(allowed: [.GET]))
        #expect(Route(method: .DELETE, path: "/v2/repository/index") == .methodNotAllowed(allowed: [.POST]))
    }
}
