import Foundation
import ModelHostCore
import ModelHostTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost serve` as a process: shutting down on signals, memory under hostile clients, a
/// bundle renamed into a running server, and `modelhost validate` on a plugin that hangs.
///
/// Every blocking step (the process, sockets, waiting) runs through ``onThread(_:)``, off the
/// cooperative threads the rest of the suite needs.
@Suite(.serialized) struct ServeCommandTests {
    /// A models directory with echo and a fixture whose `infer` blocks for a minute.
    private static func modelsWithAHungPlugin() async throws -> ModelsDirectory {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let (prelude, wait) = FixtureSource.gate(seconds: 60)
        try await FixtureBundle.make("hung", source: FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;"), in: models, limits: ["timeoutMs": 60_000])
        return models
    }

    /// Starts `modelhost serve` and waits until it reports ready.
    private static func serve(_ arguments: [String]) async throws -> ServeProcess {
        try await onThread {
            let server = try ServeProcess(arguments)
            for _ in 0..<500 {
                if (try? SocketClient.request(port: server.port, "GET", "/v2/health/ready"))?.hasPrefix("HTTP/1.1 200") == true { return server }
                usleep(20_000)
            }
            throw TestKitError("the server never became ready: \(server.output)")
        }
    }

    /// Opens a connection and sends one inference request to the hung fixture, without waiting.
    private static func callHungModel(port: Int) async throws -> SocketClient {
        try await onThread {
            let caller = try SocketClient(port: port, timeout: 20)
            caller.send("POST /v2/models/hung/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(fixtureBody.utf8.count)\r\n\r\n" + fixtureBody)
            return caller
        }
    }

    /// Sends `signal` and waits for the exit: the status (`nil` if it did not exit) and seconds taken.
    private static func stop(_ server: ServeProcess, with signal: Int32, within limit: TimeInterval) async throws -> (Int32?, TimeInterval) {
        try await onThread {
            let signalled = Date()
            server.send(signal)
            let status = server.waitForExit(within: limit)
            return (status, Date().timeIntervalSince(signalled))
        }
    }

    @Test func sigtermWithAHungCallInFlightExitsWithinTheShutdownTimeout() async throws {
        let models = try await Self.modelsWithAHungPlugin()
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth", "--shutdown-timeout", "2"])
        let caller = try await Self.callHungModel(port: server.port)
        try await Task.sleep(for: .milliseconds(300))

        let (status, elapsed) = try await Self.stop(server, with: SIGTERM, within: 15)
        #expect(status == 1, "\(server.output)")
        #expect(elapsed >= 1.5 && elapsed < 8, "exited \(elapsed) s after SIGTERM")
        #expect(server.output.contains("stopped with calls still running at the shutdown timeout"))
        #expect(server.output.contains("hung 1.0.0 (1 calls)"))
        // The caller was answered before the server went away, not left hanging.
        let answer = try await onThread { caller.readAll() }
        #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 503"), "\(answer)")
    }

    @Test func sigtermWithNothingInFlightExitsAtOnceWithStatusZero() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth"])
        let (status, elapsed) = try await Self.stop(server, with: SIGTERM, within: 10)
        #expect(status == 0, "\(server.output)")
        #expect(elapsed < 3)
        #expect(server.output.contains("version shut down"))
    }

    @Test func serveMapsEachLibraryFromAVerifiedCopyInsideTheModelsDirectory() async throws {
        let models = try ModelsDirectory()
        let bundle = try models.addExample("echo")
        let sha256 = try SHA256.hexDigest(ofFileAt: bundle + "/libEchoPlugin.so")
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth"])
        let body = #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[5]}]}"#
        let (inference, index) = try await onThread {
            (try SocketClient.request(port: server.port, "POST", "/v2/models/echo/infer", body: body),
             try SocketClient.request(port: server.port, "POST", "/v2/repository/index", body: "{}"))
        }
        #expect(inference.hasPrefix("HTTP/1.1 200"), "\(inference)")

        var info = stat()
        #expect(stat(models.path + "/.modelhost/libs/\(sha256).so", &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o444)
        #expect(stat(models.path + "/.modelhost/libs", &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o700)
        // The cache is not a model: the scanner skips names starting with '.'.
        #expect(index.contains("\"echo\""))
        #expect(!index.contains(".modelhost"))
        #expect(try await Self.stop(server, with: SIGTERM, within: 10).0 == 0)
    }

    @Test func aSecondSignalExitsAtOnce() async throws {
        let models = try await Self.modelsWithAHungPlugin()
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth", "--shutdown-timeout", "60"])
        let caller = try await Self.callHungModel(port: server.port)
        try await Task.sleep(for: .milliseconds(300))
        server.send(SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let (status, elapsed) = try await Self.stop(server, with: SIGINT, within: 10)
        #expect(status == 128 + SIGINT)
        #expect(elapsed < 3)
        withExtendedLifetime(caller) {}
    }

    @Test func unauthenticatedLargeBodiesLeaveResidentMemoryFlat() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let server = try await Self.serve(["--models", models.path, "--keys", models.path + "/keys.json"])
        // 150 clients without a key, each sending an 8 MiB body: the bodies are never buffered.
        let (before, peak, answers) = try await onThread { () throws -> (Int, Int, [String]) in
            let before = server.residentBytes
            var peak = before
            let body = [UInt8](repeating: UInt8(ascii: "1"), count: 1 << 20)
            var clients: [SocketClient] = []
            for _ in 0..<150 {
                let client = try SocketClient(port: server.port, timeout: 5)
                client.send("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n")
                for _ in 0..<8 where client.send(body) {}
                clients.append(client)
                peak = max(peak, server.residentBytes)
            }
            let answers = clients.map { $0.readAll() }
            return (before, max(peak, server.residentBytes), answers)
        }
        #expect(answers.allSatisfy { $0.hasPrefix("HTTP/1.1 401") })
        #expect(peak - before < 64 << 20, "resident memory grew from \(before >> 20) MiB to \(peak >> 20) MiB")
        let live = try await onThread { try SocketClient.request(port: server.port, "GET", "/v2/health/live") }
        #expect(live.hasPrefix("HTTP/1.1 200"))
        #expect(try await Self.stop(server, with: SIGTERM, within: 10).0 == 0)
    }

    @Test func admittedBodiesStayWithinTheBufferedBodyBudget() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let budget = 32 << 20
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth", "--max-buffered-body-bytes", String(budget)])
        // 40 admitted clients each announce 8 MiB and send half of it, holding the rest back: at
        // most 4 fit the budget, the others are refused from their heads.
        let (before, peak, refused) = try await onThread { () throws -> (Int, Int, Int) in
            let before = server.residentBytes
            let half = [UInt8](repeating: UInt8(ascii: " "), count: 4 << 20)
            var clients: [SocketClient] = []
            for _ in 0..<40 {
                let client = try SocketClient(port: server.port, timeout: 2)
                client.send("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Length: \(8 << 20)\r\n\r\n")
                client.send(half)
                clients.append(client)
            }
            usleep(500_000)
            let peak = server.residentBytes
            let refused = clients.map { $0.readAll() }.filter { $0.contains("\"code\":\"overloaded\"") }.count
            return (before, peak, refused)
        }
        #expect(peak - before < budget + (32 << 20), "resident memory grew from \(before >> 20) MiB to \(peak >> 20) MiB")
        #expect(refused >= 36)
        _ = try await Self.stop(server, with: SIGTERM, within: 15)
    }

    @Test func aBundleRenamedIntoARunningServerServesWithinSeconds() async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        // Built beside the models directory, on the same file system, then renamed in whole.
        let staging = try ModelsDirectory()
        try staging.addExample("intent-classifier")
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth"])
        try await waitUntil(.seconds(30)) { server.output.contains("following the models directory") }

        let body = #"{"inputs":[{"name":"query","shape":[1],"datatype":"BYTES","data":["What is my balance?"]}]}"#
        let (elapsed, answer) = try await onThread { () throws -> (TimeInterval, String) in
            guard rename(staging.path + "/intent-classifier", models.path + "/intent-classifier") == 0 else {
                throw TestKitError("rename failed: \(String(cString: strerror(errno)))")
            }
            let renamed = Date()
            var answer = ""
            while Date().timeIntervalSince(renamed) < 60 {
                answer = (try? SocketClient.request(port: server.port, "POST", "/v2/models/intent-classifier/infer", body: body)) ?? ""
                if answer.hasPrefix("HTTP/1.1 200") { return (Date().timeIntervalSince(renamed), answer) }
                usleep(5_000)
            }
            return (Date().timeIntervalSince(renamed), answer)
        }
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)\n\(server.output)")
        #expect(answer.contains("check_balance"))
        // The settle time (0.5 s by default) is the floor; the rest is the load and warmup.
        #expect(elapsed >= 0.45 && elapsed < 30, "\(elapsed) s")
        print("hot change: rename to first successful request in \(String(format: "%.3f", elapsed)) s (settle time 0.5 s)")
        #expect(server.output.contains("bundle seen"))
        #expect(server.output.contains("model ready"))
        #expect(try await Self.stop(server, with: SIGTERM, within: 15).0 == 0)
    }

    @Test func validateGivesUpOnACreateThatHangs() async throws {
        let models = try ModelsDirectory()
        let (prelude, wait) = FixtureSource.gate(seconds: 60)
        let bundle = try await FixtureBundle.make("create-hangs", source: FixtureSource.make(prelude: prelude, create: wait + " *out_instance = &fixture_token; return MH_OK;"), in: models)
        let (status, text, elapsed) = try await onThread { () throws -> (Int32, String, TimeInterval) in
            let process = Process()
            process.executableURL = TestPaths.buildDirectory.appendingPathComponent("modelhost")
            process.arguments = ["validate", "--load-timeout", "1", bundle]
            let output = Pipe()
            process.standardOutput = output
            let started = Date()
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, text, Date().timeIntervalSince(started))
        }
        #expect(status == 1)
        #expect(text.contains("invalid: load_timed_out"))
        #expect(elapsed < 10)
    }

    @Test func aNewVersionWhoseBreakerOpensInItsWatchIsRolledBackBySelf() async throws {
        let models = try ModelsDirectory()
        try FaultBundle.make("m", config: [:], in: models, version: "1.0.0")
        let staging = try ModelsDirectory()
        try FaultBundle.make(
            "m", config: ["mode": "fail", "failWith": "internal"], in: staging, version: "1.1.0",
            breaker: ["consecutiveFailures": 2], retry: ["maxAttempts": 1]
        )
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth", "--settle-time", "0.2"])
        try await waitUntil(.seconds(30)) { server.output.contains("following the models directory") }
        let body = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
        try await onThread {
            guard rename(staging.path + "/m/1.1.0", models.path + "/m/1.1.0") == 0 else {
                throw TestKitError("rename failed: \(String(cString: strerror(errno)))")
            }
        }
        // 1.1.0 comes in as `auto`: active once ready, and failing.
        try await waitUntil(.seconds(30)) { server.output.contains("1.1.0 is active (was 1.0.0)") }
        for _ in 0..<2 {
            let answer = try await onThread { try SocketClient.request(port: server.port, "POST", "/v2/models/m/infer", body: body) }
            #expect(answer.hasPrefix("HTTP/1.1 500"), "\(answer)")
        }
        // Its breaker opened in its watch: within the watcher's next look, traffic is back on 1.0.0.
        try await waitUntil(.seconds(10)) { server.output.contains("now rolled-back: its breaker opened during its watch") }
        let answer = try await onThread { try SocketClient.request(port: server.port, "POST", "/v2/models/m/infer", body: body) }
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.lowercased().contains("x-model-version: 1.0.0"))
        _ = try await Self.stop(server, with: SIGTERM, within: 10)
    }

    // MARK: Rollout state across restarts

    /// Echo at 1.0.0 and 1.1.0, and a saved rollout state file holding `state`.
    private static func echoVersions(state: String?) throws -> ModelsDirectory {
        let models = try ModelsDirectory()
        try models.addExample("echo", version: "1.0.0")
        try models.addExample("echo", version: "1.1.0")
        if let state {
            try FileManager.default.createDirectory(atPath: models.path + "/.modelhost", withIntermediateDirectories: true)
            try state.write(toFile: models.path + "/.modelhost/rollout.json", atomically: true, encoding: .utf8)
        }
        return models
    }

    /// The version that answers an unversioned echo request.
    private static func servedVersion(port: Int) async throws -> String? {
        let body = #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]}]}"#
        let response = try await onThread { try SocketClient.request(port: port, "POST", "/v2/models/echo/infer", body: body) }
        return response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-model-version:") }.map { String($0.split(separator: " ").last ?? "") }
    }

    @Test func aSavedRollbackIsAppliedOnRestart() async throws {
        let saved = #"{"formatVersion": 1, "models": {"echo": {"active": "1.0.0", "history": ["1.1.0"], "rolledBack": {"1.1.0": "rolled back by an operator"}}}}"#
        let models = try Self.echoVersions(state: saved)
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth"])
        #expect(try await Self.servedVersion(port: server.port) == "1.0.0", "\(server.output)")
        #expect(server.output.contains("rollout state restored"))
        _ = try await Self.stop(server, with: SIGTERM, within: 10)
    }

    @Test func aDamagedStateFileIsSetAsideAndReported() async throws {
        let models = try Self.echoVersions(state: "{ this is not json")
        let server = try await Self.serve(["--models", models.path, "--insecure-no-auth"])
        #expect(try await Self.servedVersion(port: server.port) == "1.1.0")
        #expect(server.output.contains("rollout state file damaged; set aside, starting with defaults"))
        let files = try FileManager.default.contentsOfDirectory(atPath: models.path + "/.modelhost")
        #expect(files.contains { $0.hasPrefix("rollout.json.damaged-") }, "\(files)")
        _ = try await Self.stop(server, with: SIGTERM, within: 10)
    }
}

/// The one-element request every fixture model takes.
private let fixtureBody = #"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}"#
