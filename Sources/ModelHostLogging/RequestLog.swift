/// Writes the one line per answered request, in the server's log format, straight from the
/// request's fields.
///
/// A request line is what a `Logger` at `info` would write for the message `request` with the
/// entry's fields as metadata — the same members, names and order — but built without a metadata
/// dictionary, a merge or a sort: the fields are fixed, so their order is too. It runs once for
/// every request, on the event loop, where those steps cost most of the line.
///
/// A JSON line:
///
///     {"time":"2026-12-03T07:21:04.123Z","level":"info","logger":"modelhost.request","message":"request",
///      "code":"ok","inference_seconds":0.000412,"key_id":"ci","model":"echo","queue_seconds":0.000021,
///      "request_id":"…","span_id":"…","status":200,"total_seconds":0.000530,"trace_id":"…","version":"1.0.0"}
///
/// (on one line). Durations are in seconds to the microsecond. A field without a value (no model,
/// no version, a request that never reached a queue) is left out. No field of an entry is ever a
/// secret or request content: the key is named by its id.
public struct RequestLog: Sendable {
    /// One answered request, as its line reports it.
    public struct Entry: Sendable {
        /// The request id, the caller's or generated.
        public var requestID: String
        /// The trace the request belongs to, 32 lowercase hex digits.
        public var traceID: String
        /// This hop's span in the trace, 16 lowercase hex digits.
        public var spanID: String
        /// The HTTP status of the answer.
        public var status: Int
        /// The outcome's code: `ok`, or the error's stable code.
        public var code: String
        /// From the request's head to its answer.
        public var total: Duration
        /// The model the request named, if any.
        public var model: String?
        /// The version that answered, if one was chosen.
        public var version: String?
        /// The admitted key's id, if a key was admitted; never the key.
        public var keyID: String?
        /// Time in the version's queue, when the request reached it.
        public var queued: Duration?
        /// Time inside the plugin, when it was called.
        public var inference: Duration?

        /// Creates an entry; the optional fields default to absent.
        public init(
            requestID: String, traceID: String, spanID: String, status: Int, code: String, total: Duration,
            model: String? = nil, version: String? = nil, keyID: String? = nil, queued: Duration? = nil, inference: Duration? = nil
        ) {
            self.requestID = requestID
            self.traceID = traceID
            self.spanID = spanID
            self.status = status
            self.code = code
            self.total = total
            self.model = model
            self.version = version
            self.keyID = keyID
            self.queued = queued
            self.inference = inference
        }
    }

    /// The logger label every line carries.
    public let label: String
    /// The line format.
    public let format: LogFormat

    private let output: LogOutput
    private let now: @Sendable () -> LogTimestamp
    /// What a JSON line holds between its time and its first field, escaped once here.
    private let jsonPrefix: [UInt8]

    /// Creates a request log.
    ///
    /// - Parameters:
    ///   - label: The logger label of its lines. Default `modelhost.request`.
    ///   - format: The line format, the server's. Default `.text`.
    ///   - output: Where lines go. Default: standard error.
    public init(label: String = "modelhost.request", format: LogFormat = .text, output: LogOutput = .standardError) {
        self.init(label: label, format: format, output: output, now: LogTimestamp.now)
    }

    /// Creates a request log that takes its time from `now`, for tests.
    init(label: String, format: LogFormat, output: LogOutput, now: @escaping @Sendable () -> LogTimestamp) {
        self.label = label
        self.format = format
        self.output = output
        self.now = now
        var prefix = JSONLine(capacity: label.utf8.count + 64)
        prefix.appendRaw("\",\"level\":\"info\",\"logger\":")
        prefix.appendString(label)
        prefix.appendRaw(",\"message\":\"request\"")
        self.jsonPrefix = prefix.bytes
    }

    /// Writes `entry`'s line.
    public func write(_ entry: Entry) {
        if format == .json {
            output.write(line: jsonLine(entry))
        } else {
            output.write(line: textLine(entry))
        }
    }

    /// The JSON line of `entry`: the four fixed members, then the fields by name.
    func jsonLine(_ entry: Entry) -> [UInt8] {
        var line = JSONLine(capacity: 320 + entry.requestID.utf8.count)
        line.appendRaw("{\"time\":\"")
        line.appendTimestamp(now())
        line.appendRaw(jsonPrefix)
        line.appendRaw(",\"code\":")
        line.appendString(entry.code)
        if let inference = entry.inference {
            line.appendRaw(",\"inference_seconds\":")
            line.appendSeconds(inference)
        }
        if let keyID = entry.keyID {
            line.appendRaw(",\"key_id\":")
            line.appendString(keyID)
        }
        if let model = entry.model {
            line.appendRaw(",\"model\":")
            line.appendString(model)
        }
        if let queued = entry.queued {
            line.appendRaw(",\"queue_seconds\":")
            line.appendSeconds(queued)
        }
        line.appendRaw(",\"request_id\":")
        line.appendString(entry.requestID)
        line.appendRaw(",\"span_id\":")
        line.appendString(entry.spanID)
        line.appendRaw(",\"status\":")
        line.appendInteger(entry.status)
        line.appendRaw(",\"total_seconds\":")
        line.appendSeconds(entry.total)
        line.appendRaw(",\"trace_id\":")
        line.appendString(entry.traceID)
        if let version = entry.version {
            line.appendRaw(",\"version\":")
            line.appendString(version)
        }
        line.appendRaw("}\n")
        return line.bytes
    }

    /// The text line of `entry`, laid out as `TextLogHandler` lays out a line.
    func textLine(_ entry: Entry) -> String {
        var line = now().rfc3339
        line.reserveCapacity(256)
        line += " info "
        line += label
        line += ": code="
        line += entry.code
        if let inference = entry.inference { line += " inference_seconds=" + Self.seconds(inference) }
        if let keyID = entry.keyID { line += " key_id=" + keyID }
        if let model = entry.model { line += " model=" + model }
        if let queued = entry.queued { line += " queue_seconds=" + Self.seconds(queued) }
        line += " request_id=" + entry.requestID
        line += " span_id=" + entry.spanID
        line += " status=" + String(entry.status)
        line += " total_seconds=" + Self.seconds(entry.total)
        line += " trace_id=" + entry.traceID
        if let version = entry.version { line += " version=" + version }
        line += " request\n"
        return line
    }

    /// `duration` in seconds to the microsecond, as text.
    static func seconds(_ duration: Duration) -> String {
        var line = JSONLine(capacity: 16)
        line.appendSeconds(duration)
        return String(decoding: line.bytes, as: UTF8.self)
    }
}
