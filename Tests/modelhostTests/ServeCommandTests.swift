import Foundation
import ModelHostTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve` as a process: shutting down on signals, memory under hostile clients, and
/// `modelhost validate` on a plugin that hangs.
@Suite struct ServeCommandTests {
    /// A models directory with echo and a fixture whose `infer` blocks for a minute.
    private func modelsWithAHungPlugin() throws -> ModelsDirectory {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let (prelude, wait) = FixtureSource.gate(seconds: 60)
        try FixtureBundle.make("hung", source: FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;"), in: models, limits: ["timeoutMs": 60_000])
        return models
    }

    private func waitUntilReady(_ server: ServeProcess) throws {
        for _ in 0..<500 {
            if (try? SocketClient.request(port: server.port, "GET", "/v2/health/ready"))?.hasPrefix("HTTP/1.1 200") == true { return }
            usleep(20_000)
        }
        throw TestKitError("the server never became ready: \(server.output)")
    }

    @Test func sigtermWithAHungCallInFlightExitsWithinTheShutdownTimeout() throws {
        let models = try modelsWithAHungPlugin()
        let server = try ServeProcess(["--models", models.path, "--insecure-no-auth", "--shutdown-timeout", "2"])
        try waitUntilReady(server)
        let caller = try SocketClient(port: server.port, timeout: 20)
        caller.send("POST /v2/models/hung/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(fixtureBody.utf8.count)\r\n\r\n" + fixtureBody)
        usleep(300_000)

        let signalled = Date()
        server.send(SIGTERM)
        let status = server.waitForExit(within: 15)
        let elapsed = Date().timeIntervalSince(signalled)
        #expect(status == 1, "\(server.output)")
        #expect(elapsed >= 1.5 && elapsed < 8, "exited \(elapsed) s after SIGTERM")
        #expect(server.output.contains("stopped with calls still running at the shutdown timeout"))
        #expect(server.output.contains("hung 1.0.0 (1 calls)"))
        // The caller was answered before the server went away, not left hanging.
        let answer = caller.readAll()
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
    }

    @Test func sigtermWithNothingInFlightExitsAtOnceWithStatusZero() throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let server = try ServeProcess(["--models", models.path, "--insecure-no-auth"])
        try waitUntilReady(server)
        let signalled = Date()
        server.send(SIGTERM)
        #expect(server.waitForExit(within: 10) == 0, "\(server.output)")
        #expect(Date().timeIntervalSince(signalled) < 3)
        #expect(server.output.contains("version shut down"))
    }

    @Test func aSecondSignalExitsAtOnce() throws {
        let models = try modelsWithAHungPlugin()
        let server = try ServeProcess(["--models", models.path, "--insecure-no-auth", "--shutdown-timeout", "60"])
        try waitUntilReady(server)
        let caller = try SocketClient(port: server.port, timeout: 20)
        caller.send("POST /v2/models/hung/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(fixtureBody.utf8.count)\r\n\r\n" + fixtureBody)
        usleep(300_000)
        server.send(SIGTERM)
        usleep(300_000)
        let signalled = Date()
        server.send(SIGINT)
        #expect(server.waitForExit(within: 10) == 128 + SIGINT)
        #expect(Date().timeIntervalSince(signalled) < 3)
    }

    @Test func unauthenticatedLargeBodiesLeaveResidentMemoryFlat() throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let keys = models.path + "/keys.json"
        let server = try ServeProcess(["--models", models.path, "--keys", keys])
        try waitUntilReady(server)
        let before = server.residentBytes
        let body = [UInt8](repeating: UInt8(ascii: "1"), count: 1 << 20)
        var peak = before
        // 150 clients without a key, each sending an 8 MiB body: the bodies are never buffered.
        var clients: [SocketClient] = []
        for _ in 0..<150 {
            let client = try SocketClient(port: server.port, timeout: 5)
            client.send("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n")
            for _ in 0..<8 where client.send(body) {}
            clients.append(client)
            peak = max(peak, server.residentBytes)
        }
        for client in clients {
            #expect(client.readAll().hasPrefix("HTTP/1.1 401"))
        }
        peak = max(peak, server.residentBytes)
        #expect(peak - before < 64 << 20, "resident memory grew from \(before >> 20) MiB to \(peak >> 20) MiB")
        #expect(try SocketClient.request(port: server.port, "GET", "/v2/health/live").hasPrefix("HTTP/1.1 200"))
        server.send(SIGTERM)
        #expect(server.waitForExit(within: 10) == 0)
    }

    @Test func admittedBodiesStayWithinTheBufferedBodyBudget() throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let budget = 32 << 20
        let server = try ServeProcess(["--models", models.path, "--insecure-no-auth", "--max-buffered-body-bytes", String(budget)])
        try waitUntilReady(server)
        let before = server.residentBytes
        let half = [UInt8](repeating: UInt8(ascii: " "), count: 4 << 20)
        // 40 admitted clients each announce 8 MiB and send half of it, holding the rest back: at
        // most 4 fit the budget, the others are refused from their heads.
        var clients: [SocketClient] = []
        for _ in 0..<40 {
            let client = try SocketClient(port: server.port, timeout: 2)
            client.send("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n")
            client.send(half)
            clients.append(client)
        }
        usleep(500_000)
        let peak = server.residentBytes
        #expect(peak - before < budget + (32 << 20), "resident memory grew from \(before >> 20) MiB to \(peak >> 20) MiB")
        let refused = clients.map { $0.readAll() }.filter { $0.contains("\"code\":\"overloaded\"") }.count
        #expect(refused >= 36)
        clients.removeAll()
        server.send(SIGTERM)
        _ = server.waitForExit(within: 15)
    }

    @Test func validateGivesUpOnACreateThatHangs() throws {
        let models = try ModelsDirectory()
        let (prelude, wait) = FixtureSource.gate(seconds: 60)
        let bundle = try FixtureBundle.make("create-hangs", source: FixtureSource.make(prelude: prelude, create: wait + " *out_instance = &fixture_token; return MH_OK;"), in: models)
        let process = Process()
        process.executableURL = TestPaths.buildDirectory.appendingPathComponent("modelhost")
        process.arguments = ["validate", "--load-timeout", "1", bundle]
        let output = Pipe()
        process.standardOutput = output
        let started = Date()
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)
        #expect(text.contains("invalid: load_timed_out"))
        #expect(Date().timeIntervalSince(started) < 10)
    }
}

/// The one-element request every fixture model takes.
private let fixtureBody = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
