import CircuitBreaker
import Logging
import ModelHostCore
import ModelRegistry
import NIOCore
import NIOHTTP1
import Scheduler

/// `POST /admin/models/{m}/versions/{v}/breaker`: an operator forces a version's breaker open,
/// closes it, or disables it.
extension ModelHostService {
    /// Applies the override the body asks for, `{"state": "forced-open" | "closed" | "disabled"}`,
    /// and answers with the breaker's state after it.
    func overrideBreaker(_ request: AdmittedRequest, body: ByteBuffer, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let record = request.resolution.record
        let override: BreakerOverride
        do throws(ModelHostError) {
            override = try Self.requestedOverride(in: body)
        } catch {
            completion(HTTPResponse(error: error))
            return
        }
        logger.notice("breaker override", metadata: [
            "model": "\(record.name)", "version": "\(record.version)", "state": "\(override.rawValue)",
            "key": "\(request.keyID ?? "-")", "request": "\(request.requestID)",
        ])
        guard let breakers else {
            let snapshot = request.resolution.serving.overrideBreaker(override)
            completion(Self.overrideResponse(snapshot, model: record.name, version: record.version))
            return
        }
        Task {
            let response: HTTPResponse
            do throws(ModelHostError) {
                let snapshot = try await breakers.override(model: record.name, version: record.version, to: override)
                response = Self.overrideResponse(snapshot, model: record.name, version: record.version)
            } catch {
                response = HTTPResponse(error: error)
            }
            completion(response)
        }
    }

    /// The override a body names.
    static func requestedOverride(in body: ByteBuffer) throws(ModelHostError) -> BreakerOverride {
        let choices = BreakerOverride.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        let value: JSONValue
        do {
            value = try JSONValueParser.parse(body.readableBytesView)
        } catch {
            throw ModelHostError(.invalidRequest, "the body is not JSON (\(error)); send {\"state\": one of \(choices)}")
        }
        guard case .object(let object) = value, case .string(let state)? = object["state"], object.count == 1 else {
            throw ModelHostError(.invalidRequest, "the body must be {\"state\": one of \(choices)} and nothing else")
        }
        guard let override = BreakerOverride(rawValue: state) else {
            throw ModelHostError(.invalidRequest, "\"\(state)\" is not a breaker state an operator can set; use one of \(choices)")
        }
        return override
    }

    private static func overrideResponse(_ snapshot: BreakerSnapshot, model: String, version: String) -> HTTPResponse {
        var writer = JSONWriter(capacity: 256)
        writer.beginObject()
        writer.key("name")
        writer.string(model)
        writer.key("version")
        writer.string(version)
        writer.key("breaker")
        write(snapshot, to: &writer)
        writer.endObject()
        return .json(.ok, writer.bytes, modelVersion: version)
    }
}
