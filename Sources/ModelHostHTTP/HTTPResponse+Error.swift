import ModelHostCore
import NIOHTTP1

extension ModelHostError.Code {
    /// The HTTP status each error code is answered with: the one place they are mapped.
    public var httpStatus: HTTPResponseStatus {
        switch self {
        case .invalidRequest, .validation, .pluginRefusedInput: .badRequest
        case .authentication: .unauthorized
        case .authorization: .forbidden
        case .rateLimited: .tooManyRequests
        case .routeNotFound, .modelNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .payloadTooLarge: .payloadTooLarge
        case .modelNotReady, .unavailable, .overloaded: .serviceUnavailable
        case .timeout: .gatewayTimeout
        case .pluginError, .internal: .internalServerError
        // Never written: the caller is gone. The status nginx logs for it.
        case .cancelled: HTTPResponseStatus(statusCode: 499, reasonPhrase: "Client Closed Request")
        default: .internalServerError
        }
    }
}

extension HTTPResponse {
    /// The Open Inference Protocol error shape, `{"error": "...", "code": "..."}`, with the
    /// status that ``ModelHostError/Code/httpStatus`` assigns.
    public init(error: ModelHostError) {
        var writer = JSONWriter(capacity: 64 + error.message.utf8.count)
        writer.beginObject()
        writer.key("error")
        writer.string(error.message)
        writer.key("code")
        writer.string(error.code.rawValue)
        writer.endObject()
        self = .json(error.code.httpStatus, writer.bytes, modelVersion: error.modelVersion)
        errorCode = error.code
        if let retryAfter = error.retryAfter {
            // Whole seconds, rounded up: a caller that waits that long finds the breaker probing.
            let seconds = retryAfter.components.seconds + (retryAfter.components.attoseconds > 0 ? 1 : 0)
            headers.add(name: "Retry-After", value: String(max(1, seconds)))
        } else if error.code.httpStatus == .serviceUnavailable || error.code == .rateLimited {
            headers.add(name: "Retry-After", value: "1")
        }
    }
}
