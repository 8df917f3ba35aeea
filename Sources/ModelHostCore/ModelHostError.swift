/// The one error a request can end in: a stable machine code, a message for the caller, and the
/// version of the model involved, if any.
///
/// The HTTP edge maps each ``Code`` to its status in one place; metrics and logs use
/// ``Code/rawValue`` as a label.
public struct ModelHostError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable category of failure. New codes may be added; match on the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable machine-readable spelling, sent to callers as `"code"`.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The request is malformed: unparsable JSON, a missing field, tensor data that does not
        /// match its shape.
        public static let invalidRequest = Code("invalid_request")
        /// The request is well-formed but breaks a rule the model declares.
        public static let validation = Code("validation_failed")
        /// No credentials, or credentials the server does not know.
        public static let authentication = Code("unauthenticated")
        /// Credentials that do not allow this operation.
        public static let authorization = Code("forbidden")
        /// The caller has exceeded a rate limit.
        public static let rateLimited = Code("rate_limited")
        /// No route matches the path.
        public static let routeNotFound = Code("route_not_found")
        /// The route exists but not for this method.
        public static let methodNotAllowed = Code("method_not_allowed")
        /// No model, or no version of it, has that name.
        public static let modelNotFound = Code("model_not_found")
        /// The model exists but no version of it is ready.
        public static let modelNotReady = Code("model_not_ready")
        /// The plugin failed while running the request.
        public static let pluginError = Code("plugin_error")
        /// The plugin refused the input (it returned `MH_ERROR_INVALID_INPUT`): the caller's fault,
        /// found by the model rather than by the manifest's rules.
        public static let pluginRefusedInput = Code("plugin_refused_input")
        /// The plugin said it cannot take the request now (transient); the caller may retry.
        public static let unavailable = Code("unavailable")
        /// This server has no room for the request: the model version's queue is full, or the
        /// memory budget for request bodies is spent. Local overload, never a failure of the
        /// model; retrying at once does not help, so it is never retried.
        public static let overloaded = Code("overloaded")
        /// The request did not finish before its deadline.
        public static let timeout = Code("timeout")
        /// The caller stopped waiting (it disconnected, or its task was cancelled), so nobody is
        /// answered; it is reported only to the code that submitted the request.
        public static let cancelled = Code("cancelled")
        /// The request body is larger than the server accepts.
        public static let payloadTooLarge = Code("payload_too_large")
        /// The server failed in a way that is not the caller's fault.
        public static let `internal` = Code("internal")

        public var description: String { rawValue }
    }

    /// The category of the failure.
    public var code: Code
    /// A message for the caller saying what was wrong and where.
    public var message: String
    /// The model version involved, when one was chosen before the failure.
    public var modelVersion: String?
    /// When the caller may try again, when the server knows (a version's open circuit breaker);
    /// sent as `Retry-After`.
    public var retryAfter: Duration?

    /// Creates an error.
    public init(_ code: Code, _ message: String, modelVersion: String? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.modelVersion = modelVersion
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }
}
