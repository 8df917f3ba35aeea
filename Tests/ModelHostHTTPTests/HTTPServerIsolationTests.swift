import Foundation
import ModelHostCore
import ModelHostTestKit
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// One model's failure, slowness or hang reaches its own callers and nobody else: live, with C
/// fixture plugins compiled by the tests.
@Suite(.serialized) struct HTTPServerIsolationTests {
    private func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    private static func code(_ response: TestHTTPClient.Response) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])?["code"] as? String
    }

    @Test func aHungModelFillsOnlyItsOwnSlotsWhileEchoAndProbesServe() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let (prelude, wait) = FixtureSource.gate(seconds: 60)
        let hung = try await FixtureBundle.make(
            "hung", source: FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;"), in: models,
            limits: ["maxConcurrency": 1, "maxQueue": 4, "timeoutMs": 400, "requestsPerSecond": 1_000_000, "burst": 100_000]
        )
        let live = try await LiveServer(models: models)
        await live.loaded()
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: hung + "/libhung.so")
        defer { openGate() }
        let client = live.client

        // 2,000 requests at the hung model from 40 callers at once, while echo and the probes are
        // called alongside.
        let statuses = LockedBox<[String: Int]>([:])
        let echoLatencies = LockedBox<[Duration]>([])
        let probeFailures = LockedBox(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    for _ in 0..<50 {
                        let response = try await client.send(.POST, "/v2/models/hung/infer", body: fixtureInferBody)
                        let key = "\(response.status.code) \(Self.code(response) ?? "-")"
                        statuses.withLock { $0[key, default: 0] += 1 }
                    }
                }
            }
            group.addTask {
                for _ in 0..<40 {
                    let started = ContinuousClock.now
                    let echo = try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody)
                    #expect(echo.status == .ok)
                    echoLatencies.withLock { $0.append(ContinuousClock.now - started) }
                    for probe in ["/v2/health/live", "/v2/health/ready"] {
                        if try await client.send(.GET, probe).status != .ok { probeFailures.withLock { $0 += 1 } }
                    }
                }
            }
            try await group.waitForAll()
        }
        let counts = statuses.withLock { $0 }
        #expect(counts.values.reduce(0, +) == 2000)
        // Only the two answers a hung model may give: 504 at the deadline, 503 overloaded when full.
        #expect(Set(counts.keys).isSubset(of: ["504 timeout", "503 overloaded"]), "\(counts)")
        #expect(counts["504 timeout", default: 0] >= 5, "\(counts)")
        #expect(counts["503 overloaded", default: 0] >= 1000, "\(counts)")
        #expect(probeFailures.withLock { $0 } == 0)
        let latencies = echoLatencies.withLock { $0 }.sorted()
        #expect(latencies.count == 40)
        // Behind the hung model's 400 ms deadlines echo would wait seconds; it does not wait at all.
        #expect(latencies[latencies.count / 2] < .seconds(1), "echo's median latency was \(latencies[latencies.count / 2])")

        // Its one slot is held by a call past its deadline: the model says it is not ready; the
        // server, which has other models, stays ready.
        let modelReady = try await client.send(.GET, "/v2/models/hung/ready")
        #expect(modelReady.status == .serviceUnavailable)
        #expect(try await client.send(.GET, "/v2/health/ready").status == .ok)
        openGate()
        await live.stop()
    }

    @Test func aSlowPluginAnswersEveryCallerAtItsDeadline() async throws {
        // The scenario that answered 200 after 1.5, 3, 4.5 and 6 s: now every caller gets 504 at
        // the deadline, and nothing waits behind a call that overran (served one after another,
        // the second of four callers would wait 6 s and the last 24 s). The bound leaves room for
        // a machine busy with the rest of the suite.
        let models = try ModelsDirectory()
        try await FixtureBundle.make("slow", source: FixtureSource.make(infer: FixtureSource.sleepingEcho(milliseconds: 6000)), in: models, limits: ["timeoutMs": 300])
        let live = try await LiveServer(models: models)
        await live.loaded()
        let client = live.client
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: (HTTPResponseStatus, Duration).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let response = try await client.send(.POST, "/v2/models/slow/infer", body: fixtureInferBody)
                    return (response.status, ContinuousClock.now - started)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.0 == .gatewayTimeout }, "\(results)")
        #expect(results.allSatisfy { $0.1 < .milliseconds(4500) }, "\(results)")
        await live.stop()
    }

    @Test func theCallersTimeoutShortensTheDeadline() async throws {
        let models = try ModelsDirectory()
        try await FixtureBundle.make("slow", source: FixtureSource.make(infer: FixtureSource.sleepingEcho(milliseconds: 3000)), in: models, limits: ["timeoutMs": 5000, "maxConcurrency": 4])
        let live = try await LiveServer(models: models)
        await live.loaded()
        let client = live.client

        var started = ContinuousClock.now
        let byHeader = try await client.send(.POST, "/v2/models/slow/infer", body: fixtureInferBody, headers: [("X-Request-Timeout-Ms", "150")])
        #expect(byHeader.status == .gatewayTimeout)
        #expect(Self.code(byHeader) == "timeout")
        #expect(ContinuousClock.now - started < .milliseconds(2700))

        started = ContinuousClock.now
        let byParameter = try await client.send(.POST, "/v2/models/slow/infer", body: #"{"parameters":{"timeout":150},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#)
        #expect(byParameter.status == .gatewayTimeout)
        #expect(ContinuousClock.now - started < .milliseconds(2700))

        // Neither may lengthen the manifest's deadline, and a bad one is the caller's error.
        let bad = try await client.send(.POST, "/v2/models/slow/infer", body: fixtureInferBody, headers: [("X-Request-Timeout-Ms", "soon")])
        #expect(bad.status == .badRequest)
        #expect(Self.code(bad) == "invalid_request")
        let fine = try await client.send(.POST, "/v2/models/slow/infer", body: fixtureInferBody, headers: [("X-Request-Timeout-Ms", "4500")])
        #expect(fine.status == .ok)
        await live.stop()
    }

    @Test func aCreateThatHangsDelaysNeitherListeningNorOtherModels() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let (prelude, wait) = FixtureSource.gate(seconds: 30)
        let hung = try await FixtureBundle.make("create-hangs", source: FixtureSource.make(prelude: prelude, create: wait + " *out_instance = &fixture_token; return MH_OK;"), in: models)
        let live = try await LiveServer(models: models, loadTimeout: .seconds(8))
        // The library is mapped once its load has started.
        var gate: (@Sendable () -> Void)?
        for _ in 0..<1000 where gate == nil {
            gate = try? FixtureBundle.function("fixture_open_gate", inLibrary: hung + "/libcreate-hangs.so")
            if gate == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let openGate = try #require(gate, "the hung bundle never started loading")
        defer { openGate() }
        let client = live.client

        // Listening at once; not ready while the initial load runs.
        #expect(try await client.send(.GET, "/v2/health/live").status == .ok)
        #expect(try await client.send(.GET, "/v2/health/ready").status == .serviceUnavailable)
        // Echo serves while the other bundle hangs in create.
        var echo = try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody)
        for _ in 0..<200 where echo.status != .ok {
            try await Task.sleep(for: .milliseconds(10))
            echo = try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody)
        }
        #expect(echo.status == .ok)
        let loading = try await client.send(.POST, "/v2/repository/index")
        #expect(loading.body.contains(#""name":"create-hangs","version":"1.0.0","state":"LOADING""#))

        // The load times out; the failure is reported, and the server is ready with echo.
        await live.loaded()
        let index = try await client.send(.POST, "/v2/repository/index")
        #expect(index.body.contains("load_timed_out"))
        #expect(try await client.send(.GET, "/v2/health/ready").status == .ok)
        #expect(try await client.send(.GET, "/v2/models/create-hangs/ready").status == .serviceUnavailable)
        await live.stop()
    }

    @Test func strictReadinessNeedsEveryModel() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        try await FixtureBundle.make("broken", source: FixtureSource.make(create: #"mh_error_set(error, "no weights"); return MH_ERROR_INTERNAL;"#), in: models)
        let lenient = try await LiveServer(models: models)
        let strict = try await LiveServer(models: models) { _ in } service: { $0.requiresEveryModelReady = true }
        await lenient.loaded()
        await strict.loaded()
        #expect(try await lenient.client.send(.GET, "/v2/health/ready").status == .ok)
        #expect(try await strict.client.send(.GET, "/v2/health/ready").status == .serviceUnavailable)
        await lenient.stop()
        await strict.stop()
    }

    @Test func pluginFaultsGetTheirOwnCodes() async throws {
        let models = try ModelsDirectory()
        try await FixtureBundle.make("refuses", source: FixtureSource.make(infer: #"mh_error_set(error, "x is out of range"); return MH_ERROR_INVALID_INPUT;"#), in: models)
        try await FixtureBundle.make("busy", source: FixtureSource.make(infer: #"mh_error_set(error, "GPU busy"); return MH_ERROR_UNAVAILABLE;"#), in: models)
        try await FixtureBundle.make("surprise", source: FixtureSource.make(infer: #"return fixture_write_int(sink, "surprise", 1, error);"#), in: models)
        try await FixtureBundle.make("silent", source: FixtureSource.make(), in: models, outputs: [["name": "y", "datatype": "FP32", "shape": [-1]]])
        let live = try await LiveServer(models: models)
        await live.loaded()
        let client = live.client
        let expected: [(String, HTTPResponseStatus, String, String)] = [
            ("refuses", .badRequest, "plugin_refused_input", "x is out of range"),
            ("busy", .serviceUnavailable, "unavailable", "GPU busy"),
            ("surprise", .internalServerError, "plugin_error", "\\\"surprise\\\""),
            ("silent", .internalServerError, "plugin_error", "did not produce output \\\"y\\\""),
        ]
        for (model, status, errorCode, fragment) in expected {
            let response = try await client.send(.POST, "/v2/models/\(model)/infer", body: fixtureInferBody)
            #expect(response.status == status, "\(model): \(response.body)")
            #expect(Self.code(response) == errorCode, "\(model): \(response.body)")
            #expect(response.body.contains(fragment), "\(model): \(response.body)")
            #expect(response.headers.first(name: "X-Request-ID") != nil)
        }
        await live.stop()
    }
}
