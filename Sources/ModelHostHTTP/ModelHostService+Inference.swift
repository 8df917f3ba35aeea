import Logging
import ModelHostCore
import ModelManifest
import ModelRegistry
import NIOCore
import NIOHTTP1
import Scheduler
import Synchronization
import Telemetry

/// The inference routes: decode the body against the manifest, submit it to the model version,
/// and write the answer.
extension ModelHostService {
    /// A call submitted to a model version, to cancel if its caller goes away.
    struct PendingCall: Sendable {
        var serving: ServingVersion
        var ticket: ServingVersion.Ticket

        /// Takes the call out of the version's queue, or flags it cancelled if it runs.
        func cancel() { serving.cancel(ticket) }
    }

    /// A body decoded for the plugin, and what the response needs to know of the request.
    struct DecodedRequest: Sendable {
        /// How the response is written.
        enum Shape: Sendable {
            /// An Open Inference Protocol response.
            case inference(InferenceRequest)
            /// A plain JSON response.
            case predict
            /// A plain JSON response per instance, `{"predictions": [...]}`: the outputs are split
            /// into these rows, one count per instance.
            case batch(rows: [Int])
        }

        var tensors: [Tensor]
        var truncations: String?
        var shape: Shape
        /// The timeout the body asks for (the OIP `timeout` parameter).
        var timeout: Duration?
    }

    /// Decodes `body`, submits it to the admitted request's model version and calls `completion`
    /// with the response: at once for a refusal, else from the thread that settles the call.
    ///
    /// A body up to ``Configuration/offloadedDecodingThreshold`` is decoded here, on the event
    /// loop; a larger one on the version's own thread, so a large body costs its own model's
    /// capacity and no one else's.
    ///
    /// - Returns: The submitted call, or `nil` when `completion` has already been called.
    func respond(to request: AdmittedRequest, body: ByteBuffer, completion: @escaping @Sendable (HTTPResponse) -> Void) -> PendingCall? {
        if case .breaker = request.route {
            overrideBreaker(request, body: body) { response in completion(Self.summarized(response, request: request)) }
            return nil
        }
        if request.route.controlledModel != nil {
            respondToControl(request, body: body) { response in completion(Self.summarized(response, request: request)) }
            return nil
        }
        let manifestTimeout = Duration.milliseconds(request.resolution.manifest.limits.timeoutMilliseconds)
        var timeout = min(manifestTimeout, request.callerTimeout ?? manifestTimeout)
        let job: InferenceJob
        if body.readableBytes <= configuration.offloadedDecodingThreshold {
            let decoded: DecodedRequest
            do {
                decoded = try decode(body, for: request)
            } catch {
                completion(response(for: .failure(error), timings: nil, decoded: nil, request: request))
                return nil
            }
            if let asked = decoded.timeout { timeout = min(timeout, asked) }
            job = InferenceJob(inputs: .tensors(decoded.tensors), timeout: timeout) { result, timings in
                completion(self.response(for: result, timings: timings, decoded: decoded, request: request))
            }
        } else {
            // Decoded on the version's thread; the response reads what the decoding found.
            let found = Mutex<DecodedRequest?>(nil)
            job = InferenceJob(
                inputs: .deferred {
                    Result { () throws(ModelHostError) in
                        let decoded = try self.decode(body, for: request)
                        found.withLock { $0 = decoded }
                        return decoded.tensors
                    }
                },
                timeout: timeout
            ) { result, timings in
                completion(self.response(for: result, timings: timings, decoded: found.withLock { $0 }, request: request))
            }
        }
        switch request.resolution.serving.submit(job) {
        case .accepted(let ticket):
            return PendingCall(serving: request.resolution.serving, ticket: ticket)
        case .refused(let error):
            completion(response(for: .failure(error), timings: nil, decoded: nil, request: request))
            return nil
        }
    }

    /// `response` with its request's summary, for the routes no version measures.
    private static func summarized(_ response: HTTPResponse, request: AdmittedRequest) -> HTTPResponse {
        var response = response
        if response.summary == nil { response.summary = request.summary(code: response.errorCode) }
        return response
    }

    /// Decodes and validates a body: its skeleton first, then its names, datatypes and shapes
    /// against the manifest, and only then its tensor data, straight into the plugin's layout.
    func decode(_ body: ByteBuffer, for request: AdmittedRequest) throws(ModelHostError) -> DecodedRequest {
        let resolution = request.resolution
        do throws(ModelHostError) {
            switch request.route {
            case .predict, .v1Predict:
                let instances: PredictCodec.Instances = if case .v1Predict = request.route { .required } else { .accepted }
                switch try PredictCodec.body(from: body, manifest: resolution.manifest, instances: instances) {
                case .single(let predict):
                    try resolution.validator.checkDeclarations(predict.headers)
                    let validated = try resolution.validator.validateValues(try predict.decodeTensors())
                    return DecodedRequest(tensors: validated.tensors, truncations: Self.describe(validated.truncations), shape: .predict)
                case .batch(let batch):
                    let decoded = try batch.decode(with: resolution.validator)
                    let truncations = decoded.truncations.isEmpty ? nil : decoded.truncations.joined(separator: ", ")
                    return DecodedRequest(tensors: decoded.tensors, truncations: truncations, shape: .batch(rows: decoded.rows))
                }
            default:
                let inference = try InferenceRequest(body: body, jsonLength: request.jsonLength)
                try resolution.validator.checkDeclarations(inference.headers)
                if let requested = inference.requestedOutputs {
                    try Self.checkRequestedOutputs(requested, of: resolution.manifest)
                }
                let validated = try resolution.validator.validateValues(try inference.decodeTensors())
                return DecodedRequest(
                    tensors: validated.tensors, truncations: Self.describe(validated.truncations), shape: .inference(inference),
                    timeout: inference.timeoutMilliseconds.map { .milliseconds($0) }
                )
            }
        } catch {
            if error.code == .validation {
                if let failure = error.validationFailure {
                    resolution.record.telemetry.recordRefusal(.init(input: failure.input, rule: failure.rule.rawValue))
                }
                // The message names the input and the rule, never the content.
                logger.info("input refused", metadata: [
                    "key": "\(request.keyID ?? "-")", "path": "\(request.path)", "rule": "\(error.message)", "request": "\(request.requestID)",
                ])
            }
            throw error
        }
    }

    /// The response for a call's outcome, with the headers every response of the route carries,
    /// measured in the version's telemetry.
    ///
    /// - Parameter timings: How the call's time was spent, when it reached the version's queue.
    func response(
        for result: Result<[Tensor], ModelHostError>, timings: InferenceJob.Timings?, decoded: DecodedRequest?, request: AdmittedRequest
    ) -> HTTPResponse {
        let record = request.resolution.record
        let served = record.version
        var response: HTTPResponse
        do throws(ModelHostError) {
            let outputs = try result.get()
            guard let decoded else {
                throw ModelHostError(.internal, "the request was answered without being decoded", modelVersion: served)
            }
            response = try successResponse(outputs, decoded: decoded, model: record.name, version: served)
            if configuration.tracksPredictions, let predictions = record.telemetry.predictions {
                if let change = predictions.record(outputs) { logDrift(change, record: record) }
            }
        } catch {
            let error = attributed(error, to: served)
            log(error, request: request)
            response = HTTPResponse(error: error)
        }
        let total = request.origin.receivedAt.duration(to: .now)
        let ran = (timings?.attempts ?? 0) > 0
        let queued = timings?.queued
        let inference = ran ? timings?.inference : nil
        record.telemetry.record(failure: response.errorCode, total: total, queued: queued, inference: inference)
        var summary = request.summary(code: response.errorCode)
        summary.total = total
        summary.queued = queued
        summary.inference = inference
        summary.isCountedByVersion = true
        response.summary = summary
        // Neither a success nor an error response carries these yet.
        for header in request.responseHeaders { response.headers.add(name: header.name, value: header.value) }
        return response
    }

    private func successResponse(_ outputs: [Tensor], decoded: DecodedRequest, model: String, version: String) throws(ModelHostError) -> HTTPResponse {
        var response: HTTPResponse
        switch decoded.shape {
        case .predict:
            response = .json(.ok, try PredictCodec.response(outputs: outputs, model: model, version: version), modelVersion: version)
        case .batch(let rows):
            let predictions: [[Tensor]]
            do {
                predictions = try TensorBatch.split(outputs, rows: rows)
            } catch {
                let subject = error.tensor.map { "output \"\($0)\" \(error.reason)" } ?? error.reason
                throw ModelHostError(.pluginError, "model \"\(model)\" returned a batch it cannot be split by instance: \(subject)", modelVersion: version)
            }
            response = .json(.ok, try PredictCodec.response(predictions: predictions, model: model, version: version), modelVersion: version)
        case .inference(let request):
            var selected = outputs
            if let requested = request.requestedOutputs {
                selected = try Self.select(requested, from: outputs, model: model)
            }
            let body = try InferenceResponseWriter.inferenceResponse(
                model: model, version: version, id: request.id, outputs: selected, truncatedInputs: decoded.truncations,
                isBinary: request.isBinary
            )
            response = .json(.ok, body.bytes, modelVersion: version)
            if let jsonLength = body.jsonLength {
                response.headers.replaceOrAdd(name: "Content-Type", value: "application/octet-stream")
                response.headers.add(name: InferenceRequest.headerLengthField, value: String(jsonLength))
            }
        }
        if let truncations = decoded.truncations {
            response.headers.add(name: Self.truncationHeader, value: truncations)
        }
        return response
    }

    /// Logs a failed request by what it is: the caller's fault without content, the plugin's with
    /// the model, version and request id.
    private func log(_ error: ModelHostError, request: AdmittedRequest) {
        let record = request.resolution.record
        switch error.code {
        case .pluginRefusedInput:
            // The plugin's message may quote the input: it goes to the caller only.
            logger.info("plugin refused the input", metadata: [
                "model": "\(record.name)", "version": "\(record.version)", "key": "\(request.keyID ?? "-")", "request": "\(request.requestID)",
            ])
        case .pluginError, .unavailable, .internal:
            logger.error("plugin call failed", metadata: [
                "model": "\(record.name)", "version": "\(record.version)", "request": "\(request.requestID)",
                "code": "\(error.code)", "reason": "\(error.message)",
            ])
        case .timeout, .overloaded, .modelNotReady:
            logger.notice("request not served", metadata: [
                "model": "\(record.name)", "version": "\(record.version)", "request": "\(request.requestID)", "code": "\(error.code)",
            ])
        default:
            break
        }
    }

    /// Refuses, before the call, outputs the manifest does not declare.
    private static func checkRequestedOutputs(_ requested: [String], of manifest: Manifest) throws(ModelHostError) {
        for name in requested where !manifest.outputs.contains(where: { $0.name == name }) {
            let declared = manifest.outputs.map(\.name).joined(separator: ", ")
            throw ModelHostError(.validation, "output \"\(name)\" is not produced by model \"\(manifest.name)\" (outputs: \(declared))")
        }
    }

    private static func select(_ requested: [String], from outputs: [Tensor], model: String) throws(ModelHostError) -> [Tensor] {
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
}
