import CircuitBreaker
import Foundation
import ModelHostTestKit
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// Breakers, retries and batching over real HTTP with the fault plugins, the echo example
/// served beside them to show that one model's trouble stays its own.
@Suite(.serialized) struct HTTPServerResilienceTests {
    /// A server over `models`, with the echo example added.
    private func server(_ models: ModelsDirectory) async throws -> LiveServer {
        try models.addExample("echo")
        let server = try await LiveServer(models: models, breakers: BreakerRegistry())
        await server.loaded()
        return server
    }

    private func body(_ values: [Float], shape: [Int]? = nil) -> String {
        let shape = shape ?? [values.count]
        let data = values.map { String(Int($0)) }.joined(separator: ",")
        return #"{"inputs":[{"name":"x","shape":\#(shape),"datatype":"FP32","data":[\#(data)]}]}"#
    }

    private func outputs(_ response: TestHTTPClient.Response) -> [Float]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
            let first = (object["outputs"] as? [[String: Any]])?.first, let data = first["data"] as? [NSNumber]
        else { return nil }
        return data.map(\.floatValue)
    }

    private func breakerState(_ client: TestHTTPClient, of model: String) async throws -> String? {
        let response = try await client.send(.GET, "/health")
        let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        let entry = (object?["models"] as? [[String: Any]])?.first { $0["name"] as? String == model }
        return (entry?["breaker"] as? [String: Any])?["state"] as? String
    }

    /// Echo answers while the other model misbehaves: most requests sent to it while `body`
    /// runs succeed (asserted loosely: the machine is shared, and tests run in parallel).
    private func echoStaysUp(_ client: TestHTTPClient, during body: () async throws -> Void) async throws {
        let probe = Task {
            var answered = 0
            var missed: [String] = []
            while !Task.isCancelled {
                do {
                    let response = try await client.send(.POST, "/v2/models/echo/infer", body: echoInferBody)
                    if response.status == .ok { answered += 1 } else { missed.append("\(response.status.code)") }
                } catch {
                    missed.append("\(error)")
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return (answered, missed)
        }
        try await body()
        probe.cancel()
        let (answered, missed) = await probe.value
        #expect(answered > 0)
        #expect(Double(answered) >= Double(answered + missed.count) * 0.75, "echo answered \(answered); missed: \(missed)")
    }

    @Test func aFailingPluginsBreakerOpensAndClosesAgainWhenThePluginRecovers() async throws {
        let models = try ModelsDirectory()
        let broken = models.path + "/broken"
        #expect(FileManager.default.createFile(atPath: broken, contents: nil))
        try FaultBundle.make(
            "sick", config: ["mode": "controlled", "failWhileFileExists": broken, "failWith": "internal"], in: models,
            breaker: ["consecutiveFailures": 3, "openDurationMs": 1500, "halfOpenProbes": 2], retry: ["maxAttempts": 1]
        )
        let server = try await server(models)
        let client = server.client
        try await echoStaysUp(client) {
            for _ in 0..<3 {
                #expect(try await client.send(.POST, "/v2/models/sick/infer", body: body([1])).status == .internalServerError)
            }
            let refused = try await client.send(.POST, "/v2/models/sick/infer", body: body([1]))
            #expect(refused.status == .serviceUnavailable)
            // The seconds left of 1.5, rounded up.
            #expect(refused.headers.first(name: "Retry-After").flatMap(Int.init).map { (1...2).contains($0) } == true)
            #expect(try await breakerState(client, of: "sick") == "open")
            // The plugin recovers; after the open duration the probes pass and the breaker closes.
            try FileManager.default.removeItem(atPath: broken)
            try await Task.sleep(for: .milliseconds(1600))
            for value in [2, 3] as [Float] {
                let probe = try await client.send(.POST, "/v2/models/sick/infer", body: body([value]))
                #expect(probe.status == .ok)
                #expect(outputs(probe) == [value])
            }
            #expect(try await breakerState(client, of: "sick") == "closed")
            #expect(try await client.send(.POST, "/v2/models/sick/infer", body: body([4])).status == .ok)
        }
        await server.stop()
    }

    @Test(arguments: [(1, 40), (2, 60)])
    func aFlakyPluginWithRetriesAnswersEveryRequest(maxAttempts: Int, expectedSuccesses: Int) async throws {
        let models = try ModelsDirectory()
        // Every third call fails with MH_ERROR_UNAVAILABLE: 1 in 3 requests fail without retries,
        // none with one retry, as its retry is the next call.
        try FaultBundle.make(
            "flaky", config: ["mode": "flaky", "failEvery": 3], in: models,
            breaker: ["minimumCalls": 50, "windowSize": 100],
            retry: ["maxAttempts": maxAttempts, "baseDelayMs": 1, "maxDelayMs": 5, "budgetPercent": 50]
        )
        let server = try await server(models)
        let client = server.client
        var successes = 0
        try await echoStaysUp(client) {
            for index in 0..<60 {
                let response = try await client.send(.POST, "/v2/models/flaky/infer", body: body([Float(index)]))
                if response.status == .ok {
                    successes += 1
                    #expect(outputs(response) == [Float(index)])
                } else {
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.body.contains("\"code\":\"unavailable\""))
                }
            }
        }
        #expect(successes == expectedSuccesses)
        #expect(try await breakerState(client, of: "flaky") == "closed")
        await server.stop()
    }

    @Test func aHungPluginsProbesAreBoundedByTheirDeadlines() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make(
            "hung", config: ["mode": "hang", "honorCancel": true], in: models, limits: ["maxConcurrency": 2, "timeoutMs": 1000],
            breaker: ["consecutiveFailures": 2, "openDurationMs": 1500, "halfOpenProbes": 1], retry: ["maxAttempts": 1]
        )
        let server = try await server(models)
        let client = server.client
        let clock = ContinuousClock()
        try await echoStaysUp(client) {
            for _ in 0..<2 {
                #expect(try await client.send(.POST, "/v2/models/hung/infer", body: body([1])).status == .gatewayTimeout)
            }
            // Open: refused at once, without waiting for a deadline.
            var refused: TestHTTPClient.Response?
            let fast = try await clock.measure { refused = try await client.send(.POST, "/v2/models/hung/infer", body: body([1])) }
            #expect(refused?.status == .serviceUnavailable)
            #expect(fast < .milliseconds(600), "an open breaker's refusal took \(fast)")
            // The probe hangs as well; its deadline ends it and the breaker opens again.
            try await Task.sleep(for: .milliseconds(1600))
            var probe: TestHTTPClient.Response?
            let probing = try await clock.measure { probe = try await client.send(.POST, "/v2/models/hung/infer", body: body([1])) }
            #expect(probe?.status == .gatewayTimeout)
            #expect(probing >= .milliseconds(900) && probing < .seconds(5), "the probe took \(probing)")
            #expect(try await breakerState(client, of: "hung") == "open")
        }
        try FaultCounters(bundle: directory).releaseHangs()
        await server.stop()
    }

    @Test func concurrentCallersOfABatchingModelEachGetTheirOwnRowsFromFewerCalls() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make(
            "batched", config: ["mode": "batch", "callCostUs": 5_000], in: models,
            limits: ["maxBatch": 16, "batchDelayMs": 100, "maxConcurrency": 1, "maxQueue": 128, "timeoutMs": 10_000, "requestsPerSecond": 10_000, "burst": 1000]
        )
        let server = try await server(models)
        let client = server.client
        let counters = try FaultCounters(bundle: directory)
        let callers = 32
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<callers {
                group.addTask {
                    let response = try await client.send(.POST, "/v2/models/batched/infer", body: self.body([Float(index)]))
                    #expect(response.status == .ok, "\(response.body)")
                    #expect(self.outputs(response) == [Float(2 * index)])
                }
            }
            try await group.waitForAll()
        }
        #expect(counters.batchRows == callers)
        // How many join depends on how close together the callers' connections arrive on a
        // machine busy with other tests; fewer calls than requests is the point.
        #expect(counters.batchCalls < callers, "\(counters.batchCalls) calls for \(callers) requests")
        await server.stop()
    }

    @Test func requestsOfDifferentShapesAreNotJoined() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make(
            "shaped", config: ["mode": "batch"], in: models, inputShape: [-1, -1],
            limits: ["maxBatch": 16, "batchDelayMs": 200, "maxConcurrency": 1]
        )
        let server = try await server(models)
        let client = server.client
        let counters = try FaultCounters(bundle: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for width in [2, 3] {
                group.addTask {
                    let values = (0..<width).map(Float.init)
                    let response = try await client.send(.POST, "/v2/models/shaped/infer", body: self.body(values, shape: [1, width]))
                    #expect(response.status == .ok, "\(response.body)")
                    #expect(self.outputs(response) == values.map { 2 * $0 })
                }
            }
            try await group.waitForAll()
        }
        #expect(counters.batchCalls == 2)
        await server.stop()
    }
}
