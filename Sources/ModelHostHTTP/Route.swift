import NIOHTTP1

/// What a request asks for, decided from its method and path alone.
enum Route: Equatable, Sendable {
    case serverLive
    case serverReady
    case serverMetadata
    case modelMetadata(name: String, version: String?)
    case modelReady(name: String, version: String?)
    case infer(name: String, version: String?)
    case repositoryIndex
    case predict(name: String)
    /// The path is known but not for this method; carries the allowed methods.
    case methodNotAllowed(allowed: [HTTPMethod])
    case notFound

    /// What a route gives access to, for admission: the route's kind and the model it names.
    enum Target: Equatable {
        /// No route: answered 404 or 405 without admission.
        case none
        /// Health probes.
        case open
        /// Server or model metadata and readiness.
        case metadata(model: String?)
        /// Inference on a model, and a version if the path names one.
        case inference(model: String, version: String?)
        /// The repository and control routes.
        case admin
    }

    /// What the route gives access to.
    var target: Target {
        switch self {
        case .serverLive, .serverReady: .open
        case .serverMetadata: .metadata(model: nil)
        case .modelMetadata(let name, _), .modelReady(let name, _): .metadata(model: name)
        case .infer(let name, let version): .inference(model: name, version: version)
        case .predict(let name): .inference(model: name, version: nil)
        case .repositoryIndex: .admin
        case .methodNotAllowed, .notFound: .none
        }
    }

    /// Routes a request.
    init(method: HTTPMethod, path: String) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let (route, allowed) = Self.match(segments)
        guard let route else {
            self = .notFound
            return
        }
        self = allowed == method ? route : .methodNotAllowed(allowed: [allowed])
    }

    private static func match(_ segments: [String]) -> (Route?, HTTPMethod) {
        switch segments.count {
        case 0:
            return (nil, .GET)
        case 1 where segments[0] == "v2":
            return (.serverMetadata, .GET)
        case _ where segments[0] == "predict":
            return segments.count == 2 ? (.predict(name: segments[1]), .POST) : (nil, .GET)
        case _ where segments[0] != "v2":
            return (nil, .GET)
        default:
            break
        }
        let rest = Array(segments.dropFirst())
        switch rest {
        case ["health", "live"]: return (.serverLive, .GET)
        case ["health", "ready"]: return (.serverReady, .GET)
        case ["repository", "index"]: return (.repositoryIndex, .POST)
        default: break
        }
        guard rest.count >= 2, rest[0] == "models" else { return (nil, .GET) }
        let name = rest[1]
        var tail = rest.dropFirst(2)
        var version: String?
        if tail.first == "versions" {
            guard tail.count >= 2 else { return (nil, .GET) }
            version = tail.dropFirst().first
            tail = tail.dropFirst(2)
        }
        switch Array(tail) {
        case []: return (.modelMetadata(name: name, version: version), .GET)
        case ["ready"]: return (.modelReady(name: name, version: version), .GET)
        case ["infer"]: return (.infer(name: name, version: version), .POST)
        default: return (nil, .GET)
        }
    }
}
