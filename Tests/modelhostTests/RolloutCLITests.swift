import ArgumentParser
import Foundation
import ModelHostTestKit
import Testing

@testable import modelhost

#if canImport(Glibc)
import Glibc
#endif

/// `modelhost models`, `rollback`, `promote`, `pin`, `unpin`, `canary`, `split` and `unload`:
/// parsed in-process, the key file checked, then run as the built binary against a live
/// `modelhost serve` with two versions of echo.
@Suite struct RolloutCLITests {
    // MARK: Parsing

    @Test func parsesEachCommandsArguments() throws {
        let rollback = try RollbackCommand.parse(["echo"])
        #expect(rollback.model == "echo" && rollback.to == nil && !rollback.options.json)
        let back = try RollbackCommand.parse(["echo", "--to", "1.0.0", "--json", "--server", "http://10.0.0.5:9000", "--key-file", "/etc/ops.key"])
        #expect(back.to == "1.0.0" && back.options.json)
        #expect(back.options.serverOptions.keyFile == "/etc/ops.key")
        #expect(try back.options.serverOptions.serverURL().description == "http://10.0.0.5:9000")
        #expect(try PromoteCommand.parse(["echo", "1.1.0"]).version == "1.1.0")
        #expect(try PinCommand.parse(["echo", "1.0.0"]).version == "1.0.0")
        #expect(try UnpinCommand.parse(["echo"]).model == "echo")
        let canary = try CanaryCommand.parse(["echo", "1.1.0", "--percent", "12.5"])
        #expect(canary.version == "1.1.0" && canary.percent == 12.5)
        let split = try SplitCommand.parse(["echo", "1.0.0=90", "1.1.0=10"])
        #expect(try split.weights().map(\.version) == ["1.0.0", "1.1.0"])
        #expect(try split.weights().map(\.weight) == [90, 10])
        let unload = try UnloadCommand.parse(["echo", "1.0.0"])
        #expect(unload.model == "echo" && unload.version == "1.0.0")
        #expect(try ModelsCommand.parse(["--json"]).options.json)
        // The breaker and health commands take a key file too.
        #expect(try BreakerCommand.parse(["echo", "1.0.0", "--state", "closed", "--key-file", "ops.key"]).serverOptions.keyFile == "ops.key")
        #expect(try HealthCommand.parse(["--key-file", "ops.key"]).serverOptions.keyFile == "ops.key")
    }

    @Test(arguments: [
        (["rollback"], "<model>"),
        (["rollback", "echo/x"], "model \"echo/x\""),
        (["rollback", "echo", "--to", "1.0.0?x"], "--to \"1.0.0?x\""),
        (["promote", "echo"], "<version>"),
        (["canary", "echo", "1.1.0"], "--percent"),
        (["canary", "echo", "1.1.0", "--percent", "0"], "more than 0 and less than 100"),
        (["canary", "echo", "1.1.0", "--percent", "100"], "more than 0 and less than 100"),
        (["split", "echo", "1.0.0=50"], "two or more VERSION=WEIGHT"),
        (["split", "echo", "1.0.0", "1.1.0=50"], "\"1.0.0\" is not VERSION=WEIGHT"),
        (["split", "echo", "1.0.0=50", "1.1.0=0"], "the weight of 1.1.0 must be a positive number"),
        (["split", "echo", "1.0.0=50", "1.0.0=50"], "1.0.0 is given twice"),
        (["split", "echo", "1 .0=50", "1.1.0=50"], "version \"1 .0\""),
        (["unload", "echo"], "<version>"),
        (["rollback", "echo", "--server", "https://models.internal"], "https is not supported"),
        // Keys are never flags.
        (["rollback", "echo", "--key", "mh_x"], "--key"),
    ])
    func refusesBadArguments(_ arguments: [String], naming expected: String) {
        #expect {
            _ = try ModelHostCommand.parseAsRoot(arguments)
        } throws: { error in
            let message = ModelHostCommand.message(for: error)
            #expect(message.contains(expected), "\(message)")
            return true
        }
    }

    @Test func aKeyFileMustBeTheOwnersAloneAndHoldOnlyTheKey() throws {
        let directory = try ModelsDirectory()
        let path = directory.path + "/ops.key"
        func write(_ text: String, mode: mode_t) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, mode)
        }
        try write("mh_abc_def\n", mode: 0o600)
        #expect(try KeySource.key(fromFile: path) == "mh_abc_def")
        try write("mh_abc_def\n", mode: 0o400)
        #expect(try KeySource.key(fromFile: path) == "mh_abc_def")
        func refusal(_ check: () throws -> Void) -> CommandFailure? {
            do {
                try check()
                return nil
            } catch {
                return error as? CommandFailure
            }
        }
        for mode: mode_t in [0o644, 0o640, 0o604, 0o660] {
            try write("mh_abc_def\n", mode: mode)
            let failure = refusal { _ = try KeySource.key(fromFile: path) }
            #expect(failure?.status == .configuration)
            #expect(failure?.message == "the key file \(path) is open to group or others (mode \(String(mode, radix: 8))); make it readable by its owner only: chmod 600 \(path)")
        }
        try write(" \n", mode: 0o600)
        #expect(refusal { _ = try KeySource.key(fromFile: path) }?.message == "the key file \(path) is empty")
        try write("mh_one mh_two", mode: 0o600)
        let two = refusal { _ = try KeySource.key(fromFile: path) }
        #expect(two?.message.contains("whitespace") == true && two?.message.contains("mh_one") == false)
        let missing = refusal { _ = try KeySource.key(fromFile: directory.path + "/none.key") }
        #expect(missing?.status == .configuration)
        #expect(missing?.message.contains("cannot read the key file") == true)
        #expect(refusal { _ = try KeySource.key(fromFile: directory.path) }?.message.contains("not a regular file") == true)
    }

    @Test func theTableShowsEachVersionsPlaceInTheRollout() throws {
        let json = """
            {"models":[
              {"name":"echo","active":"1.0.0","versions":[
                {"version":"1.0.0","state":"READY","active":true,"pinned":true,"splitWeight":70,"breaker":"closed"},
                {"version":"1.1.0","state":"READY","active":false,"pinned":false,"splitWeight":30,"breaker":"open"},
                {"version":"1.2.0","state":"READY","active":false,"pinned":false,"canaryPercent":12.5,"breaker":"closed"},
                {"version":"0.9.0","state":"READY","active":false,"pinned":false,"rolledBack":"rolled back by an operator","breaker":"closed"}]},
              {"name":"intent-classifier","active":null,"versions":[
                {"version":"2.0.0","state":"UNAVAILABLE","active":false,"pinned":false,"reason":"checksum_mismatch: the library's SHA-256 differs"},
                {"version":"2.1.0","state":"READY","active":true,"pinned":false,"breaker":"closed","drifting":true,"drift":{"intent":0.312,"confidence":null}}]}
            ]}
            """
        let report = try JSONDecoder().decode(ModelsCommand.Report.self, from: Data(json.utf8))
        #expect(ModelsCommand.table(report) == """
            MODEL              VERSION  STATE        ACTIVE  PINNED  ROLLOUT       BREAKER  DRIFT
            echo               1.0.0    READY        yes     yes     split 70      closed   -
            echo               1.1.0    READY        -       -       split 30      open     -
            echo               1.2.0    READY        -       -       canary 12.5%  closed   -
            echo               0.9.0    READY        -       -       rolled-back   closed   -
            intent-classifier  2.0.0    UNAVAILABLE  -       -       -             -        -
            intent-classifier  2.1.0    READY        yes     -       -             closed   drifting (intent 0.31)
            echo 0.9.0: rolled back: rolled back by an operator
            intent-classifier 2.0.0: checksum_mismatch: the library's SHA-256 differs

            """)
    }

    // MARK: Against a live server

    @Test func rollbackAndModelsChangeAndShowWhichVersionServes() async throws {
        let live = try await RolloutServer.start()
        defer { live.server.send(SIGTERM) }
        let admin: [String: String?] = ["MODELHOST_ADMIN_KEY": live.adminKey]
        #expect(try await live.servedVersion() == "1.1.0")

        let before = try await ModelHostRun.run(["models", "--server", live.url], environment: admin)
        #expect(before.status == 0, "\(before.errors)")
        #expect(before.output.range(of: #"\necho +1\.0\.0 +READY +- +- +- +closed +-\n"#, options: .regularExpression) != nil, "\(before.output)")
        #expect(before.output.range(of: #"\necho +1\.1\.0 +READY +yes +- +- +closed +-\n"#, options: .regularExpression) != nil, "\(before.output)")

        let rollback = try await ModelHostRun.run(["rollback", "echo", "--server", live.url], environment: admin)
        #expect(rollback.status == 0, "\(rollback.errors)")
        #expect(rollback.output == "echo: 1.0.0 is active (was 1.1.0, now rolled-back: rolled back by an operator)\n")
        #expect(try await live.servedVersion() == "1.0.0")

        let after = try await ModelHostRun.run(["models", "--server", live.url], environment: admin)
        #expect(after.output.range(of: #"\necho +1\.0\.0 +READY +yes +- +- +closed +-\n"#, options: .regularExpression) != nil, "\(after.output)")
        #expect(after.output.range(of: #"\necho +1\.1\.0 +READY +- +- +rolled-back +closed +-\n"#, options: .regularExpression) != nil, "\(after.output)")
        #expect(after.output.hasSuffix("echo 1.1.0: rolled back: rolled back by an operator\n"))

        let json = try await ModelHostRun.run(["models", "--json", "--server", live.url], environment: admin)
        #expect(json.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let models = try #require(parsed?["models"] as? [[String: Any]])
        #expect(models.first?["name"] as? String == "echo" && models.first?["active"] as? String == "1.0.0")

        // Nothing to act on: the server's reason, exit status 1, nothing on standard output.
        let unknown = try await ModelHostRun.run(["rollback", "echo", "--to", "9.9.9", "--server", live.url], environment: admin)
        #expect(unknown.status == 1)
        #expect(unknown.errors.contains("version 9.9.9 is not ready (ready: 1.0.0, 1.1.0) (model_not_ready)"), "\(unknown.errors)")
        #expect(unknown.output.isEmpty)
        let rawRefusal = try await ModelHostRun.run(["rollback", "nope", "--json", "--server", live.url], environment: admin)
        #expect(rawRefusal.status == 1)
        #expect(rawRefusal.output == #"{"error":"model \"nope\" is not known to this server","code":"model_not_found"}"# + "\n")
        #expect(try await live.servedVersion() == "1.0.0")

        for run in [before, rollback, after, json, unknown, rawRefusal] {
            #expect(!run.output.contains(live.adminKey) && !run.errors.contains(live.adminKey))
        }
    }

    @Test func experimentShowsEachVariantOfACanarySideBySide() async throws {
        let live = try await RolloutServer.start()
        defer { live.server.send(SIGTERM) }
        let admin: [String: String?] = ["MODELHOST_ADMIN_KEY": live.adminKey]
        let canary = try await ModelHostRun.run(["canary", "echo", "1.0.0", "--percent", "40", "--server", live.url], environment: admin)
        #expect(canary.status == 0, "\(canary.errors)")
        for _ in 0..<5 { _ = try await live.servedVersion() }

        let json = try await ModelHostRun.run(["experiment", "echo", "--json", "--server", live.url], environment: admin)
        #expect(json.status == 0, "\(json.errors)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(report["mode"] as? String == "canary")
        let variants = try #require(report["variants"] as? [[String: Any]])
        #expect(variants.map { $0["version"] as? String } == ["1.0.0", "1.1.0"])
        #expect(variants.map { $0["trafficPercent"] as? Double } == [40, 60])
        #expect(variants.map { $0["baseline"] as? Bool } == [false, true])
        // The infer key's caller lands on one version and stays there: five requests in all.
        #expect(variants.compactMap { $0["requests"] as? Int }.reduce(0, +) == 5)
        #expect((report["comparisons"] as? [[String: Any]])?.first?["candidate"] as? String == "1.0.0")

        let text = try await ModelHostRun.run(["experiment", "echo", "--server", live.url], environment: admin)
        #expect(text.output.hasPrefix("echo: canary\n"), "\(text.output)")
        #expect(text.output.range(of: #"\n1\.0\.0 +candidate +40% +"#, options: .regularExpression) != nil, "\(text.output)")
        #expect(text.output.range(of: #"\n1\.1\.0 +baseline +60% +"#, options: .regularExpression) != nil, "\(text.output)")
        let unknown = try await ModelHostRun.run(["experiment", "nothing", "--server", live.url], environment: admin)
        #expect(unknown.status != 0)
        #expect(unknown.errors.contains("model_not_found") || unknown.errors.contains("not known"), "\(unknown.errors)")
    }

    @Test func everyChangeCommandPrintsWhatChanged() async throws {
        let live = try await RolloutServer.start()
        defer { live.server.send(SIGTERM) }
        let admin: [String: String?] = ["MODELHOST_ADMIN_KEY": live.adminKey]
        func run(_ arguments: String...) async throws -> ModelHostRun {
            try await ModelHostRun.run(arguments + ["--server", live.url], environment: admin)
        }
        let expectations: [([String], String)] = [
            (["promote", "echo", "1.0.0"], "echo: 1.0.0 is active (was 1.1.0)\n"),
            (["canary", "echo", "1.1.0", "--percent", "30"], "echo: 1.1.0 takes 30% of unversioned traffic as a canary\n"),
            (["split", "echo", "1.1.0=25", "1.0.0=75"], "echo: split: 1.0.0=75, 1.1.0=25\n"),
            (["pin", "echo", "1.1.0"], "echo: 1.1.0 is pinned (was 1.0.0)\n"),
        ]
        for (arguments, expected) in expectations {
            let result = try await ModelHostRun.run(arguments + ["--server", live.url], environment: admin)
            #expect(result.status == 0, "\(arguments): \(result.errors)")
            #expect(result.output == expected, "\(arguments)")
        }
        // The pin overrides the split for every caller.
        #expect(try await live.servedVersion() == "1.1.0")
        let unpinned = try await run("unpin", "echo")
        #expect(unpinned.output == "echo: 1.1.0 is no longer pinned\n")

        let again = try await run("unpin", "echo")
        #expect(again.status == 1)
        #expect(again.errors == "modelhost: \(live.url) answered 400: no version is pinned (invalid_request)\n")
        let unload = try await run("unload", "echo", "1.0.0")
        #expect(unload.status == 0, "\(unload.errors)")
        #expect(unload.output == "echo: 1.0.0 is unloaded\n")
        let gone = try await run("unload", "echo", "1.0.0")
        #expect(gone.status == 1)
    }

    @Test func theKeyComesFromAKeyFileOnlyWhenItIsTheOwnersAlone() async throws {
        let live = try await RolloutServer.start()
        defer { live.server.send(SIGTERM) }
        let keyFile = live.models.path + "/ops.key"
        try Data((live.adminKey + "\n").utf8).write(to: URL(fileURLWithPath: keyFile))
        chmod(keyFile, 0o644)
        let none: [String: String?] = ["MODELHOST_ADMIN_KEY": nil, "MODELHOST_API_KEY": nil]
        let open = try await ModelHostRun.run(["models", "--key-file", keyFile, "--server", live.url], environment: none)
        #expect(open.status == 78)
        #expect(open.errors.contains("chmod 600 \(keyFile)"), "\(open.errors)")

        chmod(keyFile, 0o600)
        let models = try await ModelHostRun.run(["models", "--key-file", keyFile, "--server", live.url], environment: none)
        #expect(models.status == 0, "\(models.errors)")
        #expect(models.output.hasPrefix("MODEL"))
        // The key file wins over the variable.
        let wrong = try await ModelHostRun.run(
            ["rollback", "echo", "--key-file", keyFile, "--server", live.url], environment: ["MODELHOST_ADMIN_KEY": live.inferKey]
        )
        #expect(wrong.status == 0, "\(wrong.errors)")

        // An infer key in the file: refused, naming the file.
        try Data(live.inferKey.utf8).write(to: URL(fileURLWithPath: keyFile))
        let unscoped = try await ModelHostRun.run(["promote", "echo", "1.1.0", "--key-file", keyFile, "--server", live.url], environment: none)
        #expect(unscoped.status == 77)
        #expect(unscoped.errors.contains("the key in \(keyFile) is not allowed to do this"), "\(unscoped.errors)")
        let missing = try await ModelHostRun.run(["models", "--server", live.url], environment: none)
        #expect(missing.status == 77)
        #expect(missing.errors.contains("the server requires an admin key: set MODELHOST_ADMIN_KEY, or give --key-file"), "\(missing.errors)")
        let health = try await ModelHostRun.run(["health", "--key-file", keyFile, "--server", live.url], environment: none)
        #expect(health.status == 0, "\(health.errors)")
        for run in [open, models, wrong, unscoped, missing, health] {
            #expect(!run.output.contains(live.adminKey) && !run.errors.contains(live.adminKey))
            #expect(!run.output.contains(live.inferKey) && !run.errors.contains(live.inferKey))
        }
    }
}

/// `modelhost serve` with echo at 1.0.0 and 1.1.0 (1.1.0 active), and an admin key and an infer
/// key in its keys file.
private struct RolloutServer {
    let models: ModelsDirectory
    let server: ServeProcess
    let adminKey: String
    let inferKey: String

    var url: String { "http://127.0.0.1:\(server.port)" }

    /// Starts the server and waits until it is ready.
    static func start() async throws -> RolloutServer {
        let models = try ModelsDirectory()
        try models.addExample("echo", version: "1.0.0")
        try models.addExample("echo", version: "1.1.0")
        let keys = models.path + "/keys.json"
        let adminKey = try await createKey(in: keys, scope: "admin")
        let inferKey = try await createKey(in: keys, scope: "infer")
        let server = try await onThread {
            let server = try ServeProcess(["--models", models.path, "--keys", keys])
            for _ in 0..<500 {
                if (try? SocketClient.request(port: server.port, "GET", "/v2/health/ready"))?.hasPrefix("HTTP/1.1 200") == true { return server }
                usleep(20_000)
            }
            throw TestKitError("the server never became ready: \(server.output)")
        }
        return RolloutServer(models: models, server: server, adminKey: adminKey, inferKey: inferKey)
    }

    /// `modelhost keys create`: the key it prints.
    static func createKey(in file: String, scope: String) async throws -> String {
        let run = try await ModelHostRun.run(["keys", "create", "--file", file, "--name", "test-\(scope)", "--scope", scope])
        guard run.status == 0 else { throw TestKitError("keys create failed: \(run.errors)") }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The version an unversioned request to echo is served by, from `X-Model-Version`.
    func servedVersion() async throws -> String? {
        let (port, key) = (server.port, inferKey)
        let response = try await onThread {
            try SocketClient.request(
                port: port, "POST", "/v2/models/echo/infer",
                body: #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]}]}"#, headers: ["X-API-Key: \(key)"]
            )
        }
        guard response.hasPrefix("HTTP/1.1 200") else { throw TestKitError("inference failed: \(response)") }
        let line = response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-model-version:") }
        return line.map { $0.dropFirst("x-model-version:".count).trimmingCharacters(in: .whitespaces) }
    }
}
