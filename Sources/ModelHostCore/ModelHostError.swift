/// The one error a request can end in: a stable machine code, a message for the caller, and the
/// version of the model involved, if any.
///
/// The HTTP edge maps each ``Code`` to its status in one place; metrics and logs use
/// ``Code/rawValue`` as a label. A refusal of a request's inputs also says, in
/// ``validationFailure``, which input broke which rule, so it can be counted without reading the
/// message.
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
    /// Which input broke which rule, for a ``Code/validation`` refusal of a request's inputs;
    /// `nil` for every other error.
    public var validationFailure: ValidationFailure?

    /// Creates an error.
    public init(
        _ code: Code, _ message: String, modelVersion: String? = nil, retryAfter: Duration? = nil,
        validationFailure: ValidationFailure? = nil
    ) {
        self.code = code
        self.message = message
        self.modelVersion = modelVersion
        self.retryAfter = retryAfter
        self.validationFailure = validationFailure
    }

    public var description: String { "\(code): \(message)" }
}

extension ModelHostError {
    /// The input a request's refusal concerns and the rule it broke, as a small fixed set of values
    /// fit for metric labels: the input is a name the manifest declares, or one of the fixed
    /// placeholders ``undeclaredInput`` and ``wholeRequest``, never a name only a caller chose.
    public struct ValidationFailure: Sendable, Hashable, CustomStringConvertible {
        /// A rule a request's inputs must keep, by a stable lowercase name. New rules may be added;
        /// match on the static members.
        public struct Rule: Sendable, Hashable, CustomStringConvertible {
            /// The stable machine-readable spelling, used as the `rule` label.
            public let rawValue: String

            private init(_ rawValue: String) { self.rawValue = rawValue }

            /// A required input is not in the request.
            public static let missing = Rule("missing")
            /// The request has a tensor that is not a declared input.
            public static let unknownInput = Rule("unknown_input")
            /// The request gives the same input more than once.
            public static let duplicate = Rule("duplicate")
            /// The tensor's datatype is not the declared one.
            public static let datatype = Rule("datatype")
            /// The tensor's shape does not fit the declared one.
            public static let shape = Rule("shape")
            /// A variable first dimension, or the number of instances, is over `limits.maxBatch`.
            public static let maxBatch = Rule("max_batch")
            /// Instances of a batch cannot be joined: the input's first dimension is fixed.
            public static let unbatchable = Rule("unbatchable")
            /// A `BYTES` element is not valid UTF-8 (`requireUTF8`).
            public static let utf8 = Rule("utf8")
            /// A `BYTES` element contains a NUL byte (`allowNUL`).
            public static let nul = Rule("nul")
            /// A `BYTES` element is shorter than `minLength`.
            public static let minLength = Rule("min_length")
            /// A `BYTES` element is longer than `maxLength`, and not truncated.
            public static let maxLength = Rule("max_length")
            /// A `BYTES` element does not match `pattern`.
            public static let pattern = Rule("pattern")
            /// A number is below `minimum`.
            public static let minimum = Rule("minimum")
            /// A number is above `maximum`.
            public static let maximum = Rule("maximum")
            /// A floating-point number is NaN or infinite (`allowNonFinite`).
            public static let nonFinite = Rule("non_finite")
            /// The request asks for an output the model does not produce.
            public static let unknownOutput = Rule("unknown_output")

            public var description: String { rawValue }
        }

        /// The input label for a tensor whose name the manifest does not declare: callers cannot
        /// add label values by sending names of their own.
        public static let undeclaredInput = "(undeclared)"
        /// The input label for a rule that concerns the request as a whole, such as the number of
        /// instances in a batch or the outputs it asks for.
        public static let wholeRequest = "(request)"

        /// The declared name of the input, or ``undeclaredInput`` or ``wholeRequest``.
        public var input: String
        /// The rule the input broke.
        public var rule: Rule

        /// Creates a failure.
        public init(input: String, rule: Rule) {
            self.input = input
            self.rule = rule
        }

        public var description: String { "\(input): \(rule)" }
    }
}
