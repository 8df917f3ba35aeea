import ArgumentParser
import CircuitBreaker
import Foundation
import ModelHostTestKit
import Testing

@testable import modelhost

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost breaker` and `modelhost health`: parsed in-process, then run as the built binary
/// against a live `modelhost serve`.
@Suite struct BreakerCommandTests {
    // MARK: Parsing

    @Test func parsesTheModelTheVersionTheStateAndTheDefaultServer() throws {
        let command = try BreakerCommand.parse(["intent-classifier", "1.0.0", "--state", "forced-open"])
        #expect(command.model == "intent-classifier")
        #expect(command.version == "1.0.0")
        #expect(command.state == .forcedOpen)
        #expect(command.serverOptions.server == "http://127.0.0.1:\(ServeCommand.defaultPort)")
        #expect(ServeCommand.defaultPort == 8080)
        let server = try command.serverOptions.serverURL()
        #expect(server.host == "127.0.0.1" && server.port == 8080 && server.basePath.isEmpty)
    }

    @Test(arguments: BreakerOverride.allCases)
    func takesEveryOverrideInTheAdminAPISpelling(_ state: BreakerOverride) throws {
        let command = try BreakerCommand.parse(["echo", "1.0.0", "--state", state.rawValue, "--server", "http://10.0.0.5:9000"])
        #expect(command.state == state)
        #expect(try command.serverOptions.serverURL().description == "http://10.0.0.5:9000")
    }

    @Test(arguments: [
        (["echo", "1.0.0", "--state", "open"], "'forced-open', 'closed' or 'disabled'"),
        (["echo", "1.0.0", "--state", "half-open"], "'forced-open', 'closed' or 'disabled'"),
        (["echo", "1.0.0"], "--state"),
        (["echo", "--state", "closed"], "<version>"),
        (["--state", "closed"], "<model>"),
        (["echo", "1.0.0", "--state", "closed", "--server", "https://models.internal:8080"], "https is not supported"),
        (["echo", "1.0.0", "--state", "closed", "--server", "ftp://models.internal"], "only http://"),
        (["echo", "1.0.0", "--state", "closed", "--server", "http://ops:secret@models.internal"], "MODELHOST_ADMIN_KEY"),
        (["echo/x", "1.0.0", "--state", "closed"], "model \"echo/x\""),
        (["echo", "1.0.0?x", "--state", "closed"], "version \"1.0.0?x\""),
        // Keys are never flags.
        (["echo", "1.0.0", "--state", "closed", "--key", "mh_x"], "--key"),
    ])
    func refusesBadArguments(_ arguments: [String], naming expected: String) {
        #expect {
            _ = try BreakerCommand.parse(arguments)
        } throws: { error in
            let message = BreakerCommand.message(for: error)
            #expect(message.contains(expected), "\(message)")
            return true
        }
    }

    @Test func serverURLsKeepTheirPortAndPrefix() throws {
        let local = try ServerURL(parsing: "http://localhost")
        #expect(local.port == 80 && local.hostHeader == "localhost" && local.description == "http://localhost")
        let proxied = try ServerURL(parsing: "http://[::1]:9000/modelhost/")
        #expect(proxied.host == "::1" && proxied.port == 9000 && proxied.basePath == "/modelhost")
        #expect(proxied.hostHeader == "[::1]:9000")
        #expect(proxied.description == "http://[::1]:9000/modelhost")
        #expect(throws: ServerURLError.self) { try ServerURL(parsing: "http://") }
        #expect(throws: ServerURLError.self) { try ServerURL(parsing: "http://host:8080/?debug=1") }
        #expect(throws: ServerURLError.self) { try ServerURL(parsing: "http://host:0") }
        #expect(throws: ServerURLError.self) { try ServerURL(parsing: "http://host:70000") }
    }

    @Test func keysComeFromTheEnvironmentInOrder() throws {
        #expect(try KeySource.admin.key(in: [:]) == nil)
        #expect(try KeySource.admin.key(in: ["MODELHOST_ADMIN_KEY": " \n"]) == nil)
        #expect(try KeySource.admin.key(in: ["MODELHOST_ADMIN_KEY": "mh_a_b\n"])?.key == "mh_a_b")
        #expect(try KeySource.admin.key(in: ["MODELHOST_API_KEY": "mh_a_b"]) == nil)
        let both = ["MODELHOST_API_KEY": "mh_infer", "MODELHOST_ADMIN_KEY": "mh_admin"]
        #expect(try KeySource.metadata.key(in: both)?.variable == "MODELHOST_API_KEY")
        #expect(try KeySource.metadata.key(in: ["MODELHOST_ADMIN_KEY": "mh_admin"])?.variable == "MODELHOST_ADMIN_KEY")
        #expect {
            _ = try KeySource.admin.key(in: ["MODELHOST_ADMIN_KEY": "mh_one mh_two"])
        } throws: { error in
            let failure = error as? CommandFailure
            return failure?.status == .configuration && failure?.message.contains("mh_one") == false
        }
    }

    @Test func summariesAndTablesReadAsOneLinePerVersion() throws {
        let open = BreakerState(state: "open", retryAfterMs: 1500, callsInWindow: 20, failureRate: 0.6, consecutiveFailures: 5, opens: 2)
        #expect(open.summary == "breaker open, probing in 1.5 s (opens 2, failure rate 0.6 in 20 calls, 5 failures in a row)")
        let json = """
            {"models":[
              {"name":"echo","version":"1.0.0","state":"READY","breaker":{"state":"forced-open","callsInWindow":0,"failureRate":0,"consecutiveFailures":0,"opens":0},"inFlight":3,"queued":12},
              {"name":"intent-classifier","version":"2.0.0","state":"UNAVAILABLE","reason":"checksum_mismatch: the library's SHA-256 differs"}
            ],"status":"degraded"}
            """
        let report = try JSONDecoder().decode(HealthCommand.Report.self, from: Data(json.utf8))
        #expect(HealthCommand.table(report) == """
            MODEL              VERSION  STATE        BREAKER      IN FLIGHT  QUEUED
            echo               1.0.0    READY        forced-open  3          12
            intent-classifier  2.0.0    UNAVAILABLE  -            -          -
            intent-classifier 2.0.0: checksum_mismatch: the library's SHA-256 differs
            status: degraded

            """)
    }

    // MARK: Against a live server

    @Test func forcingTheBreakerOpenTakesTheVersionOutOfServiceUntilItIsClosed() async throws {
        let live = try await LiveServer.start()
        defer { live.server.send(SIGTERM) }
        let admin: [String: String?] = ["MODELHOST_ADMIN_KEY": live.adminKey, "MODELHOST_API_KEY": nil]

        let opened = try await ModelHostRun.run(["breaker", "echo", "1.0.0", "--state", "forced-open", "--server", live.url], environment: admin)
        #expect(opened.status == 0, "\(opened.errors)")
        #expect(opened.output == "echo 1.0.0: breaker forced-open (opens 0, failure rate 0.0 in 0 calls)\n")
        let refused = try await live.infer()
        #expect(refused.hasPrefix("HTTP/1.1 503"), "\(refused)")
        #expect(refused.contains(#""code":"unavailable""#))

        let health = try await ModelHostRun.run(["health", "--server", live.url], environment: ["MODELHOST_API_KEY": live.inferKey, "MODELHOST_ADMIN_KEY": nil])
        #expect(health.status == 0, "\(health.errors)")
        #expect(health.output.range(of: #"\necho +1\.0\.0 +READY +forced-open +0 +0\n"#, options: .regularExpression) != nil, "\(health.output)")
        #expect(health.output.hasSuffix("status: degraded\n"))

        let closed = try await ModelHostRun.run(["breaker", "echo", "1.0.0", "--state", "closed", "--server", live.url], environment: admin)
        #expect(closed.status == 0, "\(closed.errors)")
        #expect(closed.output == "echo 1.0.0: breaker closed (opens 0, failure rate 0.0 in 0 calls)\n")
        let served = try await live.infer()
        #expect(served.hasPrefix("HTTP/1.1 200"), "\(served)")

        for run in [opened, health, closed] {
            #expect(!run.output.contains(live.adminKey) && !run.errors.contains(live.adminKey))
            #expect(!run.output.contains(live.inferKey) && !run.errors.contains(live.inferKey))
        }
    }

    @Test func refusalsPrintTheServersMessageAndExitNonZero() async throws {
        let live = try await LiveServer.start()
        func breaker(_ version: String, key: String?) async throws -> ModelHostRun {
            try await ModelHostRun.run(
                ["breaker", "echo", version, "--state", "forced-open", "--server", live.url],
                environment: ["MODELHOST_ADMIN_KEY": key, "MODELHOST_API_KEY": nil]
            )
        }

        // A well-formed key this server does not know.
        let stranger = try await LiveServer.createKey(in: live.models.path + "/other-keys.json", scope: "admin")
        let wrong = try await breaker("1.0.0", key: stranger)
        #expect(wrong.status == 77)
        #expect(wrong.errors.contains("the server refused the key in MODELHOST_ADMIN_KEY: the API key is not valid (unauthenticated)"), "\(wrong.errors)")
        #expect(!wrong.errors.contains(stranger) && !wrong.output.contains(stranger))

        let missing = try await breaker("1.0.0", key: nil)
        #expect(missing.status == 77)
        #expect(missing.errors.contains("the server requires an admin key: set MODELHOST_ADMIN_KEY"), "\(missing.errors)")

        let unscoped = try await breaker("1.0.0", key: live.inferKey)
        #expect(unscoped.status == 77)
        #expect(unscoped.errors.contains(#"lacks the "admin" scope this route needs (forbidden)"#), "\(unscoped.errors)")

        let unknown = try await breaker("9.9.9", key: live.adminKey)
        #expect(unknown.status == 1)
        #expect(unknown.errors.contains(#"model "echo" has no version "9.9.9""#), "\(unknown.errors)")
        #expect(unknown.errors.contains("(model_not_found)"))
        #expect(unknown.output.isEmpty)

        // /health needs the infer scope, which an admin key alone lacks.
        let health = try await ModelHostRun.run(["health", "--server", live.url], environment: ["MODELHOST_ADMIN_KEY": live.adminKey, "MODELHOST_API_KEY": nil])
        #expect(health.status == 77)
        #expect(health.errors.contains("set MODELHOST_API_KEY to a key with the infer scope"), "\(health.errors)")

        let stopped = try await onThread { live.server.send(SIGTERM); return live.server.waitForExit(within: 10) }
        #expect(stopped == 0)
        let unreachable = try await breaker("1.0.0", key: live.adminKey)
        #expect(unreachable.status == 69)
        #expect(unreachable.errors.contains("could not reach \(live.url)"), "\(unreachable.errors)")
    }

    @Test func aServerWithoutAuthenticationNeedsNoKey() async throws {
        let live = try await LiveServer.start(authenticated: false)
        defer { live.server.send(SIGTERM) }
        let none: [String: String?] = ["MODELHOST_ADMIN_KEY": nil, "MODELHOST_API_KEY": nil]
        let disabled = try await ModelHostRun.run(["breaker", "echo", "1.0.0", "--state", "disabled", "--server", live.url], environment: none)
        #expect(disabled.status == 0, "\(disabled.errors)")
        #expect(disabled.output.hasPrefix("echo 1.0.0: breaker disabled"))
        let health = try await ModelHostRun.run(["health", "--server", live.url + "/"], environment: none)
        #expect(health.status == 0, "\(health.errors)")
        #expect(health.output.contains("disabled"))
        #expect(health.output.hasSuffix("status: ok\n"))
    }
}

/// `modelhost serve` on the echo example, with an admin key and an infer key in its keys file.
private struct LiveServer {
    let models: ModelsDirectory
    let server: ServeProcess
    let adminKey: String
    let inferKey: String

    var url: String { "http://127.0.0.1:\(server.port)" }

    /// Starts the server and waits until it is ready.
    static func start(authenticated: Bool = true) async throws -> LiveServer {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        let keys = models.path + "/keys.json"
        let adminKey = try await createKey(in: keys, scope: "admin")
        let inferKey = try await createKey(in: keys, scope: "infer")
        let server = try await onThread {
            let server = try ServeProcess(["--models", models.path] + (authenticated ? ["--keys", keys] : ["--insecure-no-auth"]))
            for _ in 0..<500 {
                if (try? SocketClient.request(port: server.port, "GET", "/v2/health/ready"))?.hasPrefix("HTTP/1.1 200") == true { return server }
                usleep(20_000)
            }
            throw TestKitError("the server never became ready: \(server.output)")
        }
        return LiveServer(models: models, server: server, adminKey: adminKey, inferKey: inferKey)
    }

    /// `modelhost keys create`: the key it prints.
    static func createKey(in file: String, scope: String) async throws -> String {
        let run = try await ModelHostRun.run(["keys", "create", "--file", file, "--name", "test-\(scope)", "--scope", scope])
        guard run.status == 0 else { throw TestKitError("keys create failed: \(run.errors)") }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One inference request to echo with the infer key: the whole response.
    func infer() async throws -> String {
        let (port, key) = (server.port, inferKey)
        return try await onThread {
            try SocketClient.request(
                port: port, "POST", "/v2/models/echo/infer",
                body: #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]}]}"#, headers: ["X-API-Key: \(key)"]
            )
        }
    }
}
