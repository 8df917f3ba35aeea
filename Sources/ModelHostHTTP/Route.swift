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
    /// Every model version with its state, its breaker and its load.
    case health
    /// An operator's override of a model version's circuit breaker.
    case breaker(name: String, version: String)
    /// `GET /admin/models`: every model version with its place in the model's rollout.
    case adminModels
    /// `GET /admin/models/{m}/experiment`: the versions of a canary or split side by side.
    case experiment(name: String)
    /// `POST /admin/models/{m}/{action}`: an operator changes which version serves the model.
    case rollout(name: String, action: RolloutAction)
    /// `POST /admin/models/{m}/versions/{v}/unload`: an operator unloads one version.
    case unloadVersion(name: String, version: String)
    /// The OIP repository extension's `POST /v2/repository/models/{m}/load`.
    case repositoryLoad(name: String)
    /// The OIP repository extension's `POST /v2/repository/models/{m}/unload`: every version.
    case repositoryUnload(name: String)
    /// KServe v1 `GET /v1/models/{m}`: the model's name and whether it is ready.
    case v1Model(name: String)
    /// KServe v1 `POST /v1/models/{m}:predict`: `/predict` with `instances`.
    case v1Predict(name: String)
    /// The path is known but not for this method; carries the allowed methods.
    case methodNotAllowed(allowed: [HTTPMethod])
    case notFound

    /// A change of a model's rollout an operator asks for, named by the last segment of its path.
    enum RolloutAction: String, CaseIterable, Sendable {
        case rollback, promote, pin, unpin, canary, split
    }

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
        /// The repository and control routes, and the model a control route acts on.
        case admin(model: String?)
    }

    /// What the route gives access to.
    var target: Target {
        switch self {
        case .serverLive, .serverReady: .open
        case .serverMetadata: .metadata(model: nil)
        case .modelMetadata(let name, _), .modelReady(let name, _), .v1Model(let name): .metadata(model: name)
        case .infer(let name, let version): .inference(model: name, version: version)
        case .predict(let name), .v1Predict(let name): .inference(model: name, version: nil)
        case .health: .metadata(model: nil)
        case .repositoryIndex, .adminModels: .admin(model: nil)
        case .experiment(let name): .admin(model: name)
        case .breaker(let name, _), .rollout(let name, _), .unloadVersion(let name, _), .repositoryLoad(let name), .repositoryUnload(let name):
            .admin(model: name)
        case .methodNotAllowed, .notFound: .none
        }
    }

    /// The model version the route acts on, resolved once from its head; `nil` for routes that
    /// name none, or only read about models.
    var resolvedVersion: (model: String, version: String?)? {
        switch self {
        case .infer(let name, let version): (name, version)
        case .predict(let name), .v1Predict(let name): (name, nil)
        case .breaker(let name, let version): (name, version)
        default: nil
        }
    }

    /// The model the route names, if any, as the caller spelled it: for the request log.
    var namedModel: String? {
        switch target {
        case .metadata(let model), .admin(let model): model
        case .inference(let model, _): model
        case .open, .none: nil
        }
    }

    /// The model a control route acts on: a route that reads a JSON body and changes the model
    /// (its rollout, or what is loaded) rather than calling a version; `nil` for other routes.
    var controlledModel: String? {
        switch self {
        case .rollout(let name, _), .unloadVersion(let name, _), .repositoryLoad(let name), .repositoryUnload(let name): name
        default: nil
        }
    }

    /// Routes a request.
    init(method: HTTPMethod, path: String) {
        let segments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        let (route, allowed) = Self.match(segments)
        guard let route else {
            self = .notFound
            return
        }
        self = allowed == method ? route : .methodNotAllowed(allowed: [allowed])
    }

    /// Matches path segments, compared as bytes: only model names and versions become strings.
    private static func match(_ segments: [Substring.UTF8View]) -> (Route?, HTTPMethod) {
        func text(_ index: Int) -> String { String(Substring(segments[index])) }
        func isSegment(_ index: Int, _ literal: StaticString) -> Bool {
            guard index < segments.count else { return false }
            return segments[index].elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        let count = segments.count
        guard count > 0 else { return (nil, .GET) }
        if isSegment(0, "predict") {
            return count == 2 ? (.predict(name: text(1)), .POST) : (nil, .GET)
        }
        if isSegment(0, "health") {
            return count == 1 ? (.health, .GET) : (nil, .GET)
        }
        if isSegment(0, "admin") {
            guard count >= 2, isSegment(1, "models") else { return (nil, .GET) }
            switch count {
            case 2:
                return (.adminModels, .GET)
            case 4:
                if isSegment(3, "experiment") { return (.experiment(name: text(2)), .GET) }
                // admin/models/{m}/{action}: the action's name becomes a string on this rare route only.
                guard let action = RolloutAction(rawValue: text(3)) else { return (nil, .GET) }
                return (.rollout(name: text(2), action: action), .POST)
            case 6 where isSegment(3, "versions"):
                // admin/models/{m}/versions/{v}/breaker | unload
                if isSegment(5, "breaker") { return (.breaker(name: text(2), version: text(4)), .POST) }
                if isSegment(5, "unload") { return (.unloadVersion(name: text(2), version: text(4)), .POST) }
                return (nil, .GET)
            default:
                return (nil, .GET)
            }
        }
        if isSegment(0, "v1") {
            guard count == 3, isSegment(1, "models") else { return (nil, .GET) }
            // `{m}:predict`: a verb after the last colon, which no model name contains.
            let last = segments[2]
            guard let colon = last.lastIndex(of: UInt8(ascii: ":")) else { return (.v1Model(name: text(2)), .GET) }
            let name = last[..<colon]
            let verb: StaticString = "predict"
            guard !name.isEmpty, last[last.index(after: colon)...].elementsEqual(UnsafeBufferPointer(start: verb.utf8Start, count: verb.utf8CodeUnitCount)) else {
                return (nil, .GET)
            }
            return (.v1Predict(name: String(Substring(name))), .POST)
        }
        guard isSegment(0, "v2") else { return (nil, .GET) }
        if count == 1 { return (.serverMetadata, .GET) }
        if count == 3 {
            if isSegment(1, "health"), isSegment(2, "live") { return (.serverLive, .GET) }
            if isSegment(1, "health"), isSegment(2, "ready") { return (.serverReady, .GET) }
            if isSegment(1, "repository"), isSegment(2, "index") { return (.repositoryIndex, .POST) }
        }
        if count == 5, isSegment(1, "repository"), isSegment(2, "models") {
            // v2/repository/models/{m}/load | unload
            if isSegment(4, "load") { return (.repositoryLoad(name: text(3)), .POST) }
            if isSegment(4, "unload") { return (.repositoryUnload(name: text(3)), .POST) }
            return (nil, .GET)
        }
        guard count >= 3, isSegment(1, "models") else { return (nil, .GET) }
        var tail = 3
        var version: String?
        if isSegment(3, "versions") {
            guard count >= 5 else { return (nil, .GET) }
            version = text(4)
            tail = 5
        }
        switch count - tail {
        case 0: return (.modelMetadata(name: text(2), version: version), .GET)
        case 1 where isSegment(tail, "ready"): return (.modelReady(name: text(2), version: version), .GET)
        case 1 where isSegment(tail, "infer"): return (.infer(name: text(2), version: version), .POST)
        default: return (nil, .GET)
        }
    }
}
