import Gatekeeper
import Logging
import ModelHostCore
import ModelManifest
import ModelRegistry
import PluginLoader
import NIOCore
import NIOHTTP1

/// The application behind the HTTP edge: routes each request to the registry and the models,
/// and turns the outcome, success or ``ModelHostError``, into a response.
public struct ModelHostService: Sendable {
    /// What the server reports about itself.
    public struct Configuration: Sendable {
        /// The server's name in `GET /v2`. Default `modelhost`.
        public var serverName: String = "modelhost"
        /// The server's version in `GET /v2`. Default the package's version.
        public var serverVersion: String = ModelHostService.version

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    /// The version of ModelHost.
    public static let version = "0.1.0"

    /// The protocol extensions this server implements, listed in `GET /v2`.
    public static let extensions = ["model_repository", "binary_tensor_data", "predict"]

    let registry: ModelRegistry
    private let admission: (any RequestAdmitting)?
    let configuration: Configuration
    private let logger: Logger

    /// Creates a service over `registry`.
    ///
    /// - Parameters:
    ///   - registry: The models to serve.
    ///   - admission: Who decides whether a request may proceed (normally a ``Gatekeeper/Gatekeeper``);
    ///     `nil` admits everything.
    ///   - configuration: What the server reports about itself.
    ///   - logger: Where refusals are logged, by key id and rule, never with request content.
    public init(
        registry: ModelRegistry,
        admission: (any RequestAdmitting)? = nil,
        configuration: Configuration = .init(),
        logger: Logger = Logger(label: "modelhost.http")
    ) {
        self.registry = registry
        self.admission = admission
        self.configuration = configuration
        self.logger = logger
    }

    /// Answers one request. Never throws: every failure becomes an error response.
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let route = Route(method: request.method, path: request.path)
        var admittedHeaders: [(name: String, value: String)] = []
        var keyID: String?
        if let admission, let admissionRequest = admissionRequest(for: route, request) {
            let decision = admission.admit(admissionRequest)
            keyID = decision.keyID
            if let refusal = decision.refusal {
                logger.info("refused", metadata: [
                    "code": "\(refusal.code)", "key": "\(decision.keyID ?? "-")", "client": "\(request.clientAddress)",
                    "path": "\(request.path)",
                ])
                var response = HTTPResponse(error: refusal)
                for header in decision.headers { response.headers.replaceOrAdd(name: header.name, value: header.value) }
                return response
            }
            admittedHeaders = decision.headers
        }
        var response: HTTPResponse
        do {
            response = try await respond(to: route, request)
        } catch {
            if error.code == .validation {
                // The message names the input and the rule, never the content.
                logger.info("input refused", metadata: ["key": "\(keyID ?? "-")", "path": "\(request.path)", "rule": "\(error.message)"])
            }
            response = HTTPResponse(error: error)
        }
        for header in admittedHeaders { response.headers.replaceOrAdd(name: header.name, value: header.value) }
        return response
    }

    /// What the Gatekeeper must know about a request; `nil` for routes that do not exist, which
    /// are answered 404 or 405 without asking it.
    private func admissionRequest(for route: Route, _ request: HTTPRequest) -> AdmissionRequest? {
        let access: AdmissionRequest.Access
        var model: String?
        var version: String?
        switch route {
        case .serverLive, .serverReady: access = .open
        case .serverMetadata: access = .metadata
        case .modelMetadata(let name, let requested), .modelReady(let name, let requested):
            (access, model, version) = (.metadata, name, requested)
        case .infer(let name, let requested): (access, model, version) = (.inference, name, requested)
        case .predict(let name): (access, model) = (.inference, name)
        case .repositoryIndex: access = .admin
        case .methodNotAllowed, .notFound: return nil
        }
        let credential = KeyRing.credential(
            fromHeaders: request.headers.first(name: "X-API-Key"),
            authorization: request.headers.first(name: "Authorization")
        )
        var modelLimit: RateLimit?
        if access == .inference, let model {
            modelLimit = registry.limits(of: model, version: version).map {
                RateLimit.perSecond($0.requestsPerSecond, burst: $0.burst, policyName: "model")
            }
        }
        return AdmissionRequest(access: access, model: model, modelLimit: modelLimit, credential: credential, clientAddress: request.clientAddress)
    }

    private func respond(to route: Route, _ request: HTTPRequest) async throws(ModelHostError) -> HTTPResponse {
        switch route {
        case .serverLive:
            return .json(.ok, Array(#"{"live":true}"#.utf8))
        case .serverReady:
            let isReady = registry.snapshot.isEveryModelReady
            return .json(isReady ? .ok : .serviceUnavailable, Array((isReady ? #"{"ready":true}"# : #"{"ready":false}"#).utf8))
        case .serverMetadata:
            return .json(.ok, serverMetadata())
        case .modelMetadata(let name, let version):
            return try modelMetadata(name: name, version: version)
        case .modelReady(let name, let version):
            return try modelReady(name: name, version: version)
        case .infer(let name, let version):
            return try await infer(name: name, version: version, request)
        case .predict(let name):
            return try await predict(name: name, body: request.body)
        case .repositoryIndex:
            return .json(.ok, repositoryIndex())
        case .methodNotAllowed(let allowed):
            var response = HTTPResponse(error: ModelHostError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path); use \(allowed.map(\.rawValue).joined(separator: ", "))"))
            response.headers.add(name: "Allow", value: allowed.map(\.rawValue).joined(separator: ", "))
            return response
        case .notFound:
            throw ModelHostError(.routeNotFound, "no route for \(request.method) \(request.path)")
        }
    }

    private func infer(name: String, version: String?, _ httpRequest: HTTPRequest) async throws(ModelHostError) -> HTTPResponse {
        let resolution = try registry.resolve(name, version: version)
        let served = resolution.record.version
        do throws(ModelHostError) {
            var jsonLength: Int?
            if let field = httpRequest.headers.first(name: InferenceRequest.headerLengthField) {
                guard let length = Int(field) else {
                    throw ModelHostError(.invalidRequest, "\(InferenceRequest.headerLengthField) must be a whole number of bytes")
                }
                jsonLength = length
            }
            let request = try InferenceRequest(body: httpRequest.body, jsonLength: jsonLength)
            try resolution.validator.checkDeclarations(request.headers)
            let validated = try resolution.validator.validate(request.decodeTensors())
            var outputs = try await resolution.instance.infer(validated.tensors)
            if let requested = request.requestedOutputs {
                outputs = try select(requested, from: outputs, model: name)
            }
            let truncated = Self.describe(validated.truncations)
            let body = try InferenceResponseWriter.inferenceResponse(
                model: name, version: served, id: request.id, outputs: outputs, truncatedInputs: truncated,
                isBinary: request.isBinary
            )
            var response = HTTPResponse.json(.ok, body.bytes, modelVersion: served)
            if let jsonLength = body.jsonLength {
                response.headers.replaceOrAdd(name: "Content-Type", value: "application/octet-stream")
                response.headers.add(name: InferenceRequest.headerLengthField, value: String(jsonLength))
            }
            return Self.withTruncations(response, truncated)
        } catch {
            throw Self.attributed(error, to: served)
        }
    }

    private func predict(name: String, body: ByteBuffer) async throws(ModelHostError) -> HTTPResponse {
        let resolution = try registry.resolve(name)
        let served = resolution.record.version
        do {
            let request = try PredictCodec.request(from: body, manifest: resolution.manifest)
            try resolution.validator.checkDeclarations(request.headers)
            let validated = try resolution.validator.validate(request.decodeTensors())
            let outputs = try await resolution.instance.infer(validated.tensors)
            let response = HTTPResponse.json(.ok, try PredictCodec.response(outputs: outputs, model: name, version: served), modelVersion: served)
            return Self.withTruncations(response, Self.describe(validated.truncations))
        } catch {
            throw Self.attributed(error, to: served)
        }
    }

    private func select(_ requested: [String], from outputs: [Tensor], model: String) throws(ModelHostError) -> [Tensor] {
        try requested.map { name throws(ModelHostError) in
            guard let output = outputs.first(where: { $0.name == name }) else {
                let produced = outputs.map(\.name).joined(separator: ", ")
                throw ModelHostError(.validation, "output \"\(name)\" is not produced by model \"\(model)\" (outputs: \(produced))")
            }
            return output
        }
    }

    /// The header that reports inputs cut to their declared `maxLength`, with their original
    /// lengths: `query[0]=700` (element 0 of input `query` was 700 bytes).
    public static let truncationHeader = "X-Input-Truncated"

    private static func describe(_ truncations: [Truncation]) -> String? {
        guard !truncations.isEmpty else { return nil }
        return truncations.map { "\($0.input)[\($0.element)]=\($0.originalLength)" }.joined(separator: ", ")
    }

    private static func withTruncations(_ response: HTTPResponse, _ description: String?) -> HTTPResponse {
        guard let description else { return response }
        var response = response
        response.headers.add(name: truncationHeader, value: description)
        return response
    }

    private static func attributed(_ error: ModelHostError, to version: String) -> ModelHostError {
        var error = error
        if error.modelVersion == nil { error.modelVersion = version }
        return error
    }
}
