import CircuitBreaker
import Gatekeeper
import Logging
import ModelHostCore
import ModelHostLogging
import ModelManifest
import ModelRegistry
import NIOCore
import NIOHTTP1
import Scheduler
import Telemetry

/// The application behind the HTTP edge: routes each request, admits or refuses it from its head,
/// and turns the outcome, success or ``ModelHostError``, into a response.
///
/// Everything here is synchronous and runs on the connection's event loop, except the plugin
/// call, which goes to the model version's own threads and answers through a completion.
/// A request is handled in two steps: ``decide(head:clientAddress:)`` routes it, resolves the
/// model version once and admits it before any body byte is read; for inference,
/// ``respond(to:body:completion:)`` then decodes the body, checked against the manifest first,
/// and submits it to the version.
public final class ModelHostService: Sendable {
    /// What the server reports about itself and how it decides readiness.
    public struct Configuration: Sendable {
        /// The server's name in `GET /v2`. Default `modelhost`.
        public var serverName: String = "modelhost"
        /// The server's version in `GET /v2`. Default the package's version.
        public var serverVersion: String = ModelHostService.version
        /// Whether `/v2/health/ready` needs every model to have a ready version, rather than at
        /// least one. Default `false`: one bad bundle does not take the replica out of service.
        public var requiresEveryModelReady = false
        /// Bodies larger than this, in bytes, are decoded on the model version's own thread
        /// instead of the event loop. Default 64 KiB.
        public var offloadedDecodingThreshold: Int = 64 << 10
        /// Whether the outputs a manifest declares under `tracking` are tracked for drift.
        /// Default `true`.
        public var tracksPredictions = true

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    /// The version of ModelHost.
    public static let version = "0.1.0"

    /// The protocol extensions this server implements, listed in `GET /v2`.
    /// `predict` is the plain JSON API (`POST /predict/{m}`) and `kserve_v1` the KServe v1 routes
    /// (`/v1/models/{m}`, `/v1/models/{m}:predict`), neither of them a protocol extension proper.
    public static let extensions = ["model_repository", "binary_tensor_data", "predict", "kserve_v1"]

    /// The header that carries the caller's timeout in milliseconds.
    public static let timeoutHeader = "X-Request-Timeout-Ms"
    /// The header that carries the request id, from the caller or generated.
    public static let requestIDHeader = "X-Request-ID"
    /// The W3C Trace Context header: the caller's trace continued, or a new one, is returned in it.
    public static let traceparentHeader = "traceparent"

    let registry: ModelRegistry
    /// Where operators' breaker overrides go; `nil` sets them on the version directly.
    let breakers: BreakerRegistry?
    /// What unloads model versions; `nil` until the server wires its models directory watcher.
    let control: (any ModelControl)?
    /// The admission decision, bound once to the `RequestAdmitting` given to `init`: calling it costs
    /// no existential copy per request.
    private let admit: (@Sendable (AdmissionRequest, inout CredentialMemo) -> AdmissionDecision)?
    let configuration: Configuration
    let logger: Logger
    /// Where the one line per answered request goes; `nil` logs none.
    let requestLog: RequestLog?
    /// The edge's own counts: requests no version measured, refusals by reason and policy, and
    /// operators' rollbacks.
    public let counters: EdgeCounters
    private let requestIDs = RequestIDGenerator()

    /// Creates a service over `registry`.
    ///
    /// - Parameters:
    ///   - registry: The models to serve.
    ///   - admission: Who decides whether a request may proceed (normally a ``Gatekeeper/Gatekeeper``);
    ///     `nil` admits everything.
    ///   - breakers: Where operators' breaker overrides go, so that they are remembered; `nil`
    ///     sets them on the version alone.
    ///   - control: What unloads model versions for the unload routes; `nil` answers them 503
    ///     `unavailable` (the server wires one with its models directory watcher).
    ///   - configuration: What the server reports about itself.
    ///   - logger: Where refusals and plugin failures are logged, by key id, model, version and
    ///     request id, never with request content.
    ///   - requestLog: Where each answered request is logged, one line each; `nil`, the default,
    ///     logs none.
    ///   - counters: Where the edge counts what no model version measures.
    public init(
        registry: ModelRegistry,
        admission: (any RequestAdmitting)? = nil,
        breakers: BreakerRegistry? = nil,
        control: (any ModelControl)? = nil,
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "modelhost.http"),
        requestLog: RequestLog? = nil,
        counters: EdgeCounters = EdgeCounters()
    ) {
        self.registry = registry
        self.breakers = breakers
        self.control = control
        if let admission {
            self.admit = { (request: AdmissionRequest, memo: inout CredentialMemo) -> AdmissionDecision in
                admission.admit(request, memo: &memo)
            }
        } else {
            self.admit = nil
        }
        self.configuration = configuration
        self.logger = logger
        self.requestLog = requestLog
        self.counters = counters
    }

    // MARK: The head

    /// What to do with a request once its head has been read.
    enum HeadDecision {
        /// Answer with this; the body, if any, is not needed.
        case respond(HTTPResponse)
        /// Admitted: read the body, then call ``respond(to:body:completion:)``.
        case readBody(AdmittedRequest)
    }

    /// Routes a request, resolves the model version it names, and admits or refuses it — all
    /// from the head, before any of its body is read. Routes without a body are answered here.
    ///
    /// - Parameter memo: The connection's memo, reused and updated.
    func decide(head: HTTPRequestHead, clientAddress: String, memo: inout ConnectionMemo) -> HeadDecision {
        let receivedAt = ContinuousClock.now
        let path = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { String(head.uri[..<$0]) } ?? head.uri
        let requestID = requestIDs.id(from: head.headers.first(name: Self.requestIDHeader))
        // A caller's valid trace is continued as a new span of ours; anything else starts a trace.
        let trace = head.headers.first(name: Self.traceparentHeader).flatMap(TraceContext.init(traceparent:))?.child() ?? .start()
        let origin = RequestOrigin(requestID: requestID, trace: trace, receivedAt: receivedAt)
        let route = Route(method: head.method, path: path)
        var keyID: String?
        var decision = decide(route: route, head: head, path: path, origin: origin, clientAddress: clientAddress, keyID: &keyID, memo: &memo)
        if case .respond(var response) = decision, response.summary == nil {
            response.summary = RequestSummary(
                origin: origin, keyID: keyID, model: route.namedModel,
                version: response.headers.first(name: HTTPResponse.modelVersionHeader), code: response.errorCode
            )
            decision = .respond(response)
        }
        return decision
    }

    /// Counts an answered request where the version did not, logs its line, and adds the headers
    /// every response carries: the request id and the trace context. Called once per response,
    /// just before it is written.
    func finish(_ response: inout HTTPResponse) {
        guard let summary = response.summary else { return }
        response.headers.replaceOrAdd(name: Self.requestIDHeader, value: summary.origin.requestID)
        response.headers.replaceOrAdd(name: Self.traceparentHeader, value: summary.origin.trace.traceparent)
        if !summary.isCountedByVersion {
            counters.edgeRequests.increment(summary.code?.rawValue ?? VersionTelemetry.successLabel)
        }
        if let requestLog { logRequest(summary, status: response.status, to: requestLog) }
    }

    private func decide(
        route: Route, head: HTTPRequestHead, path: String, origin: RequestOrigin, clientAddress: String, keyID: inout String?, memo: inout ConnectionMemo
    ) -> HeadDecision {
        let requestID = origin.requestID
        if case .methodNotAllowed(let allowed) = route {
            let methods = allowed.map(\.rawValue).joined(separator: ", ")
            var response = HTTPResponse(error: ModelHostError(.methodNotAllowed, "\(head.method) is not allowed on \(path); use \(methods)"))
            response.headers.add(name: "Allow", value: methods)
            return .respond(response)
        }
        if case .notFound = route {
            return .respond(HTTPResponse(error: ModelHostError(.routeNotFound, "no route for \(head.method) \(path)")))
        }
        // Resolved once: the version found here is the one admitted, decoded for and called.
        var resolution: Result<ModelRegistry.Resolution, ModelHostError>?
        if let (name, version) = route.resolvedVersion {
            resolution = Result { () throws(ModelHostError) in try registry.resolve(name, version: version) }
        }
        var admittedHeaders: [(name: String, value: String)] = []
        if let admit, let request = admissionRequest(for: route, head: head, clientAddress: clientAddress, resolution: resolution, memo: &memo) {
            let decision = admit(request, &memo.credential)
            keyID = decision.keyID
            if let refusal = decision.refusal {
                count(decision)
                logger.info("refused", metadata: [
                    "code": "\(refusal.code)", "key": "\(decision.keyID ?? "-")", "client": "\(clientAddress)",
                    "path": "\(path)", "request": "\(requestID)",
                ])
                var response = HTTPResponse(error: refusal)
                for header in decision.headers { response.headers.replaceOrAdd(name: header.name, value: header.value) }
                return .respond(response)
            }
            admittedHeaders = decision.headers
        }
        guard let resolution else {
            guard route.controlledModel != nil else {
                return .respond(respondWithoutBody(to: route, path: path, method: head.method))
            }
            // A control route: what it names is checked from the head, its body read next.
            if let refusal = controlRefusal(for: route) {
                var response = HTTPResponse(error: refusal)
                for header in admittedHeaders { response.headers.replaceOrAdd(name: header.name, value: header.value) }
                return .respond(response)
            }
            return .readBody(AdmittedRequest(
                route: route, resolution: nil, origin: origin, keyID: keyID, path: path,
                responseHeaders: admittedHeaders, callerTimeout: nil, jsonLength: nil
            ))
        }
        do throws(ModelHostError) {
            var resolved = try resolution.get()
            // A canary or split keeps each caller on one version: chosen by who was admitted.
            if resolved.dependsOnCaller, let (name, _) = route.resolvedVersion {
                resolved = try registry.resolve(name, caller: keyID ?? clientAddress)
            }
            // A version whose breaker is open is not even sent the body.
            if case .inference = route.target, let refusal = resolved.serving.breakerRefusal() {
                throw refusal
            }
            var callerTimeout: Duration?
            if let field = head.headers.first(name: Self.timeoutHeader) {
                guard let milliseconds = Int(field), milliseconds > 0 else {
                    throw ModelHostError(.invalidRequest, "\(Self.timeoutHeader) must be a positive whole number of milliseconds, not \"\(field)\"")
                }
                callerTimeout = .milliseconds(milliseconds)
            }
            var jsonLength: Int?
            if let field = head.headers.first(name: InferenceRequest.headerLengthField) {
                guard let length = Int(field), length >= 0 else {
                    throw ModelHostError(.invalidRequest, "\(InferenceRequest.headerLengthField) must be a whole number of bytes")
                }
                jsonLength = length
            }
            return .readBody(AdmittedRequest(
                route: route, resolution: resolved, origin: origin, keyID: keyID, path: path,
                responseHeaders: admittedHeaders, callerTimeout: callerTimeout, jsonLength: jsonLength
            ))
        } catch {
            var response = HTTPResponse(error: attributed(error, to: (try? resolution.get())?.record.version))
            for header in admittedHeaders { response.headers.replaceOrAdd(name: header.name, value: header.value) }
            return .respond(response)
        }
    }

    /// What the Gatekeeper must know about a request.
    private func admissionRequest(
        for route: Route, head: HTTPRequestHead, clientAddress: String,
        resolution: Result<ModelRegistry.Resolution, ModelHostError>?, memo: inout ConnectionMemo
    ) -> AdmissionRequest? {
        let access: AdmissionRequest.Access
        var model: String?
        switch route.target {
        case .none: return nil
        case .open: access = .open
        case .metadata(let name): (access, model) = (.metadata, name)
        case .inference(let name, _): (access, model) = (.inference, name)
        case .admin(let name): (access, model) = (.admin, name)
        }
        let credential = KeyRing.credential(
            fromHeaders: head.headers.first(name: "X-API-Key"),
            authorization: head.headers.first(name: "Authorization")
        )
        var modelLimit: RateLimit?
        if access == .inference, case .success(let resolved)? = resolution {
            modelLimit = memo.modelLimit(of: resolved.record)
        }
        return AdmissionRequest(access: access, model: model, modelLimit: modelLimit, credential: credential, clientAddress: clientAddress)
    }

    /// Answers the routes that need no body and no plugin.
    private func respondWithoutBody(to route: Route, path: String, method: HTTPMethod) -> HTTPResponse {
        do throws(ModelHostError) {
            switch route {
            case .serverLive:
                return .json(.ok, Array(#"{"live":true}"#.utf8))
            case .serverReady:
                let isReady = isServerReady
                return .json(isReady ? .ok : .serviceUnavailable, Array((isReady ? #"{"ready":true}"# : #"{"ready":false}"#).utf8))
            case .serverMetadata:
                return .json(.ok, serverMetadata())
            case .modelMetadata(let name, let version):
                return try modelMetadata(name: name, version: version)
            case .modelReady(let name, let version):
                return try modelReady(name: name, version: version)
            case .repositoryIndex:
                return .json(.ok, repositoryIndex())
            case .health:
                return .json(.ok, health())
            case .adminModels:
                return .json(.ok, adminModels())
            case .experiment(let name):
                return try experiment(name)
            case .v1Model(let name):
                return try v1Model(name: name)
            case .infer, .predict, .v1Predict, .breaker, .rollout, .unloadVersion, .repositoryLoad, .repositoryUnload, .methodNotAllowed, .notFound:
                throw ModelHostError(.internal, "\(method) \(path) was routed to the wrong handler")
            }
        } catch {
            return HTTPResponse(error: error)
        }
    }

    /// Whether the server reports ready: the initial load has finished, it is not shutting down,
    /// and at least one model (every model, with ``Configuration/requiresEveryModelReady``) has a
    /// ready version.
    var isServerReady: Bool {
        let snapshot = registry.snapshot
        guard snapshot.isInitialLoadComplete, !snapshot.isShuttingDown else { return false }
        return configuration.requiresEveryModelReady ? snapshot.isEveryModelReady : snapshot.isAnyModelReady
    }

    // MARK: Tools and tests

    /// Answers one whole request, waiting for the plugin if there is one: both steps of the
    /// request path in one call, for tests and tools. The server itself never awaits.
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        var headers = request.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(request.body.readableBytes))
        let head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path, headers: headers)
        var memo = ConnectionMemo()
        var response: HTTPResponse
        switch decide(head: head, clientAddress: request.clientAddress, memo: &memo) {
        case .respond(let answer):
            response = answer
        case .readBody(let admitted):
            response = await withCheckedContinuation { continuation in
                _ = respond(to: admitted, body: request.body) { continuation.resume(returning: $0) }
            }
        }
        finish(&response)
        return response
    }

    func attributed(_ error: ModelHostError, to version: String?) -> ModelHostError {
        var error = error
        if error.modelVersion == nil { error.modelVersion = version }
        return error
    }
}

/// A request that passed admission and waits for its body: what the head decided.
///
/// A reference, so the request's state and its completion share it without copying its fields.
final class AdmittedRequest: Sendable {
    /// The route: an inference route, a breaker override, or a control route.
    let route: Route
    /// The model version resolved for it once, from the head; `nil` for a control route, which
    /// acts on a model (``Route/controlledModel``) rather than calling a version.
    private let resolved: ModelRegistry.Resolution?
    /// Who asked and when: the request id, the trace, the head's arrival.
    let origin: RequestOrigin
    /// The request id, echoed in the response and named in the log.
    var requestID: String { origin.requestID }
    /// The key that was admitted, if any.
    let keyID: String?
    /// The request's path, for the log.
    let path: String
    /// Header fields admission adds to the response (rate-limit state).
    let responseHeaders: [(name: String, value: String)]
    /// The caller's timeout from ``ModelHostService/timeoutHeader``.
    let callerTimeout: Duration?
    /// The `Inference-Header-Content-Length` value.
    let jsonLength: Int?

    /// The model version resolved from the head, for the routes that resolve one
    /// (``Route/resolvedVersion`` is not `nil`: inference and breaker overrides).
    ///
    /// `decide` admits those routes only with a resolution and control routes only without one,
    /// and only the handlers of the former read this, so a missing one is a broken invariant.
    var resolution: ModelRegistry.Resolution {
        guard let resolved else { preconditionFailure("\(route) was admitted without a model version but read one") }
        return resolved
    }

    init(
        route: Route, resolution: ModelRegistry.Resolution?, origin: RequestOrigin, keyID: String?, path: String,
        responseHeaders: [(name: String, value: String)], callerTimeout: Duration?, jsonLength: Int?
    ) {
        self.route = route
        self.resolved = resolution
        self.origin = origin
        self.keyID = keyID
        self.path = path
        self.responseHeaders = responseHeaders
        self.callerTimeout = callerTimeout
        self.jsonLength = jsonLength
    }

    /// The summary of this request's answer, before the version's measurements are added.
    func summary(code: ModelHostError.Code?) -> RequestSummary {
        RequestSummary(
            origin: origin, keyID: keyID,
            model: resolved?.record.name ?? route.namedModel, version: resolved?.record.version, code: code
        )
    }
}

/// Who asked and when, fixed when the request's head is read.
struct RequestOrigin: Sendable {
    /// The request id, the caller's or generated.
    var requestID: String
    /// This hop's trace context.
    var trace: TraceContext
    /// When the head was read.
    var receivedAt: ContinuousClock.Instant
}
