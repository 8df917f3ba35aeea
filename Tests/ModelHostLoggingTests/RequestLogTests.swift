import Logging
import Testing

@testable import ModelHostLogging

@Suite struct RequestLogTests {
    static let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let spanID = "00f067aa0ba902b7"

    /// A request that reached a version: every field present.
    static let served = RequestLog.Entry(
        requestID: "req-1", traceID: traceID, spanID: spanID, status: 200, code: "ok", total: .microseconds(530),
        model: "echo", version: "1.0.0", keyID: "ci", queued: .microseconds(21), inference: .microseconds(412)
    )

    static func log(_ collector: LineCollector, format: LogFormat) -> RequestLog {
        RequestLog(label: "modelhost.request", format: format, output: collector.output, now: { fixedInstant })
    }

    @Test func aJSONLineHasTheFixedMembersThenEveryFieldByName() throws {
        let collector = LineCollector()
        Self.log(collector, format: .json).write(Self.served)
        let expected = #"{"time":"2026-12-03T07:21:04.123Z","level":"info","logger":"modelhost.request","message":"request","#
            + #""code":"ok","inference_seconds":0.000412,"key_id":"ci","model":"echo","queue_seconds":0.000021,"#
            + #""request_id":"req-1","span_id":"00f067aa0ba902b7","status":200,"total_seconds":0.000530,"#
            + #""trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","version":"1.0.0"}"# + "\n"
        #expect(try collector.onlyLine() == expected)
    }

    @Test func aJSONLineListsItsMembersAsAMetadataLoggerWould() throws {
        // The same fields logged through `JSONLogHandler` come out with the same names in the same order.
        let collector = LineCollector()
        Self.log(collector, format: .json).write(Self.served)
        let reference = LineCollector()
        Logger.json(reference, label: "modelhost.request").info("request", metadata: [
            "request_id": "req-1", "trace_id": .string(Self.traceID), "span_id": .string(Self.spanID), "status": .stringConvertible(200),
            "code": "ok", "total_seconds": .stringConvertible(0.00053), "model": "echo", "version": "1.0.0", "key_id": "ci",
            "queue_seconds": .stringConvertible(0.000021), "inference_seconds": .stringConvertible(0.000412),
        ])
        #expect(try Self.names(collector.onlyLine()) == Self.names(reference.onlyLine()))
        let object = try collector.onlyObject()
        let referenceObject = try reference.onlyObject()
        for name in referenceObject.keys {
            #expect("\(object[name] ?? "absent")" == "\(referenceObject[name] ?? "absent")", "member \(name)")
        }
    }

    @Test func fieldsWithoutAValueAreLeftOut() throws {
        let collector = LineCollector()
        let refused = RequestLog.Entry(
            requestID: "req-2", traceID: Self.traceID, spanID: Self.spanID, status: 404, code: "route_not_found", total: .microseconds(7)
        )
        Self.log(collector, format: .json).write(refused)
        let object = try collector.onlyObject()
        #expect(Set(object.keys) == [
            "time", "level", "logger", "message", "code", "request_id", "span_id", "status", "total_seconds", "trace_id",
        ])
        #expect(object["status"] as? Int == 404)
        #expect(object["code"] as? String == "route_not_found")
    }

    @Test func stringsAreEscaped() throws {
        let collector = LineCollector()
        var entry = Self.served
        entry.model = "a\"model\\with\nbreaks"
        Self.log(collector, format: .json).write(entry)
        let line = try collector.onlyLine()
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(try LineCollector.parse(line)["model"] as? String == "a\"model\\with\nbreaks")
    }

    @Test(arguments: [
        (Duration.zero, "0.000000"), (.microseconds(412), "0.000412"), (.milliseconds(12_500), "12.500000"),
        (.nanoseconds(1_999), "0.000001"), (.seconds(86_400), "86400.000000"), (.microseconds(-5), "0.000000"),
    ])
    func durationsAreSecondsToTheMicrosecond(duration: Duration, text: String) throws {
        #expect(RequestLog.seconds(duration) == text)
        let collector = LineCollector()
        var entry = Self.served
        entry.total = duration
        Self.log(collector, format: .json).write(entry)
        #expect(try collector.onlyLine().contains(#""total_seconds":\#(text),"#))
    }

    @Test func aTextLineIsWhatTheTextHandlerWritesForTheSameFields() throws {
        let collector = LineCollector()
        Self.log(collector, format: .text).write(Self.served)
        let reference = LineCollector()
        Logger.text(reference, label: "modelhost.request").info("request", metadata: [
            "request_id": "req-1", "trace_id": .string(Self.traceID), "span_id": .string(Self.spanID), "status": "200",
            "code": "ok", "total_seconds": "0.000530", "model": "echo", "version": "1.0.0", "key_id": "ci",
            "queue_seconds": "0.000021", "inference_seconds": "0.000412",
        ])
        #expect(try collector.onlyLine() == reference.onlyLine())
    }

    @Test func theConfigurationMakesARequestLogOnlyAtInfoAndBelow() {
        var configuration = LogConfiguration()
        configuration.format = .json
        for level in Logger.Level.allCases {
            configuration.level = level
            let log = configuration.makeRequestLog()
            #expect((log != nil) == (level <= .info), "at \(level)")
            #expect(log?.format ?? .json == .json)
        }
    }

    /// The member names of a JSON line, in the order they appear (no value here holds `":`).
    static func names(_ line: String) -> [String] {
        line.matches(of: #/"([a-z_]+)":/#).map { String($0.1) }
    }
}
