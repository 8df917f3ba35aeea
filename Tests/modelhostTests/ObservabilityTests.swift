import Foundation
import ModelHostTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A live `modelhost serve --log-format json` under traffic that exercises what it measures:
/// its `/metrics` exposition (checked by promtool and against the dashboard and alert rules),
/// one JSON log line per request with its ids and timings, trace context in and out, and no key
/// or secret anywhere in the log.
@Suite struct ObservabilityTests {
    /// A traceparent a caller sends: its trace id must come back and be logged.
    static let callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let callerTraceparent = "00-\(callerTrace)-00f067aa0ba902b7-01"

    @Test func trafficIsMeasuredLoggedAndTracedWithoutSecrets() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        try models.addExample("intent-classifier")
        let keys = models.path + "/keys.json"
        let inferKey = try await Self.createKey(in: keys, scope: "infer")
        let server = try await onThread {
            let server = try ServeProcess(["--models", models.path, "--keys", keys, "--log-format", "json"])
            for _ in 0..<500 {
                if (try? SocketClient.request(port: server.port, "GET", "/v2/health/ready"))?.hasPrefix("HTTP/1.1 200") == true { return server }
                usleep(20_000)
            }
            throw TestKitError("the server never became ready: \(server.output)")
        }
        defer { server.send(SIGKILL) }
        let port = server.port
        let metricsPort = try #require(server.metricsPort, "\(server.output)")
        #expect(metricsPort != port)

        let intent = #"{"inputs":[{"name":"query","shape":[1],"datatype":"BYTES","data":["what is my balance"]}]}"#
        let secretBody = #"{"password":"hunter2-body-secret","inputs":[{"name":"query","shape":[1],"datatype":"BYTES","data":["send money to mum"]}]}"#
        let badBearer = "mh_notarealkey_butsecretlooking"
        let answers = try await onThread { () -> [String: String] in
            var answers: [String: String] = [:]
            func send(_ id: String, _ method: String, _ path: String, body: String? = nil, headers: [String] = []) throws {
                answers[id] = try SocketClient.request(port: port, method, path, body: body, headers: headers + ["X-Request-ID: \(id)"])
            }
            let key = "X-API-Key: \(inferKey)"
            for index in 0..<20 { try send("ok-\(index)", "POST", "/v2/models/intent-classifier/infer", body: intent, headers: [key]) }
            try send("traced", "POST", "/v2/models/intent-classifier/infer", body: intent, headers: [key, "traceparent: \(Self.callerTraceparent)"])
            try send("bad-trace", "POST", "/v2/models/echo/infer", body: #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]}]}"#, headers: [key, "traceparent: 00-zz-nonsense-01"])
            try send("secrets", "POST", "/v2/models/intent-classifier/infer", body: secretBody, headers: [key, "X-Password: hunter2-header-secret"])
            try send("invalid", "POST", "/v2/models/intent-classifier/infer", body: #"{"inputs":[{"name":"query","shape":[1],"datatype":"FP32","data":[1]}]}"#, headers: [key])
            try send("no-key", "POST", "/v2/models/intent-classifier/infer", body: intent)
            try send("wrong-key", "POST", "/v2/models/intent-classifier/infer", body: intent, headers: ["Authorization: Bearer \(badBearer)"])
            try send("unknown-model", "POST", "/v2/models/nothing/infer", body: intent, headers: [key])
            try send("probe", "GET", "/v2/health/live")
            return answers
        }
        #expect(answers["ok-0"]?.hasPrefix("HTTP/1.1 200") == true, "\(answers["ok-0"] ?? "")")
        #expect(answers["invalid"]?.hasPrefix("HTTP/1.1 400") == true)
        #expect(answers["no-key"]?.hasPrefix("HTTP/1.1 401") == true)
        // Every answer carries its request id and a trace context.
        for (id, answer) in answers {
            #expect(answer.contains("\r\nx-request-id: \(id)\r\n") || answer.contains("\r\nX-Request-ID: \(id)\r\n"), "\(id): \(answer)")
            #expect(Self.traceparent(in: answer) != nil, "\(id) has no traceparent")
        }
        // The caller's trace is continued as a new span; an invalid one starts a new trace.
        let traced = try #require(Self.traceparent(in: answers["traced"] ?? ""))
        #expect(traced.split(separator: "-")[1] == Self.callerTrace)
        #expect(traced != Self.callerTraceparent)
        let restarted = try #require(Self.traceparent(in: answers["bad-trace"] ?? ""))
        #expect(restarted.split(separator: "-").count == 4)

        // The exposition, after that traffic.
        let exposition = try await onThread { try SocketClient.request(port: metricsPort, "GET", "/metrics") }
        #expect(exposition.hasPrefix("HTTP/1.1 200"))
        let body = String(exposition[exposition.range(of: "\r\n\r\n")!.upperBound...])
        for expected in [
            #"modelhost_requests_total{model="intent-classifier",version="1.0.0",code="ok"} 22"#,
            #"modelhost_requests_total{model="intent-classifier",version="1.0.0",code="validation_failed"} 1"#,
            #"modelhost_authentication_failures_total{reason="missing"} 1"#,
            #"modelhost_request_duration_seconds_count{model="intent-classifier",version="1.0.0"} 23"#,
            #"modelhost_request_inference_duration_seconds_count{model="intent-classifier",version="1.0.0"} 22"#,
            #"modelhost_validation_refusals_total{model="intent-classifier",version="1.0.0",input="query",rule="datatype"} 1"#,
            #"modelhost_prediction_class_total{model="intent-classifier",version="1.0.0",output="intent",class="check_balance"}"#,
            #"modelhost_prediction_value_count{model="intent-classifier",version="1.0.0",output="confidence"} 22"#,
            #"modelhost_breaker_state{model="echo",version="1.0.0",state="closed"} 1"#,
            #"modelhost_model_active_version{model="intent-classifier",version="1.0.0"} 1"#,
            #"modelhost_bundle_loads_total{model="echo"} 1"#,
            "process_resident_memory_bytes ", "process_open_fds ", "process_cpu_seconds_total ", "process_start_time_seconds ",
        ] {
            #expect(body.contains(expected), "missing \(expected)")
        }
        // promtool's lint, and every metric the dashboard and alert rules query.
        let file = models.path + "/exposition.txt"
        try Data(body.utf8).write(to: URL(fileURLWithPath: file))
        if Self.hasPromtool || ProcessInfo.processInfo.environment["MODELHOST_REQUIRE_PROMTOOL"] == "1" {
            let check = try await onThread { try Self.checkMonitoring(exposition: file) }
            #expect(check.status == 0, "\(check.output)")
        } else {
            // .ci/run installs promtool and requires it; a developer's machine may lack it.
            print("ObservabilityTests: promtool is not installed; the exposition was not linted (install Debian's prometheus package)")
        }

        server.send(SIGTERM)
        _ = try await onThread { server.waitForExit(within: 15) }
        let log = server.output
        let lines = log.split(separator: "\n").filter { $0.hasPrefix("{") }
        let records = try lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
        }
        #expect(lines.count == log.split(separator: "\n").count, "a line of the log is not JSON")
        // One request line per request, with the fields operators search by.
        let requestLines = records.filter { $0["message"] as? String == "request" }
        for id in answers.keys {
            let matching = requestLines.filter { $0["request_id"] as? String == id }
            #expect(matching.count == 1, "\(id): \(matching.count) request lines")
        }
        let served = try #require(requestLines.first { $0["request_id"] as? String == "ok-0" })
        #expect(served["model"] as? String == "intent-classifier")
        #expect(served["version"] as? String == "1.0.0")
        #expect(served["status"] as? Int == 200)
        #expect(served["code"] as? String == "ok")
        #expect(served["level"] as? String == "info")
        #expect(served["time"] is String)
        #expect(served["key_id"] is String)
        for field in ["queue_seconds", "inference_seconds", "total_seconds"] {
            #expect((served[field] as? Double).map { $0 >= 0 && $0 < 10 } == true, "\(field): \(served[field] ?? "none")")
        }
        let tracedLine = try #require(requestLines.first { $0["request_id"] as? String == "traced" })
        #expect(tracedLine["trace_id"] as? String == Self.callerTrace)
        let refused = try #require(requestLines.first { $0["request_id"] as? String == "no-key" })
        #expect(refused["status"] as? Int == 401 && refused["code"] as? String == "unauthenticated")
        // Lifecycle events are lines of their own.
        #expect(records.contains { $0["event"] as? String == "bundle_loaded" })
        // Never a key, a secret or content.
        for secret in [inferKey, badBearer, "hunter2-body-secret", "hunter2-header-secret", "what is my balance", "send money to mum"] {
            #expect(!log.contains(secret), "the log holds \(secret)")
        }
    }

    /// The `traceparent` header of a raw response.
    static func traceparent(in response: String) -> String? {
        for line in response.split(separator: "\r\n") where line.lowercased().hasPrefix("traceparent: ") {
            return String(line.dropFirst("traceparent: ".count))
        }
        return nil
    }

    /// Whether promtool is on the `PATH`.
    static var hasPromtool: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains { directory in
            FileManager.default.isExecutableFile(atPath: "\(directory)/promtool")
        }
    }

    /// `Scripts/check-monitoring` on an exposition: promtool's checks and the dashboard's metrics.
    static func checkMonitoring(exposition: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = TestPaths.packageRoot.appendingPathComponent("Scripts/check-monitoring")
        process.arguments = [exposition]
        process.currentDirectoryURL = TestPaths.packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// `modelhost keys create`: the key it prints.
    static func createKey(in file: String, scope: String) async throws -> String {
        let run = try await ModelHostRun.run(["keys", "create", "--file", file, "--name", "test-\(scope)", "--scope", scope])
        guard run.status == 0 else { throw TestKitError("keys create failed: \(run.errors)") }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
