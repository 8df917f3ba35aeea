import Foundation
import ModelHostCore
import ModelHostTestKit
import PluginLoader
import Testing

/// The fault plugin's modes that answer at once, loaded through the real PluginLoader and called
/// through ``PluginInstance``: config refusals, statuses, flaky sequences, the file switch,
/// failing creates, batching and counters.
@Suite struct FaultPluginLoaderTests {
    // MARK: Config

    @Test func anEmptyConfigEchoesAndCountsWhatItMadeAndDestroyed() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make("echo-mode", in: models)
        let loaded = try await load(directory)
        let counters = try FaultCounters(bundle: directory)
        #expect(!loaded.instance.supportsBatching)
        let y = try loaded.instance.infer([FaultBundle.input([1.5, -2, 0])], context: .unbounded).get()
        #expect(y.map(\.name) == ["y"])
        #expect(y.map(\.shape) == [[3]])
        #expect(FaultBundle.values(of: y[0]) == [1.5, -2, 0])
        #expect(counters.creates == 1)
        #expect(counters.calls == 1)
        #expect(counters.finished == 1)
        loaded.instance.destroy()
        #expect(counters.destroys == 1)
    }

    @Test(arguments: ConfigRefusal.all)
    func aConfigItCannotHonourFailsCreateWithAClearMessage(refusal: ConfigRefusal) async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make("refused", config: refusal.config(), in: models)
        let error = try #require(await loadError(directory))
        #expect(error.code == .createFailed, "\(error)")
        #expect(!error.isTransient)
        #expect(error.message.contains(refusal.fragment), "\(error.message) should contain \(refusal.fragment)")
    }

    // MARK: Failing calls

    @Test(arguments: [
        ("unavailable", ModelHostError.Code.unavailable),
        ("internal", .pluginError),
        ("invalid_input", .pluginRefusedInput),
    ])
    func failAnswersEveryCallWithItsStatus(failWith: String, code: ModelHostError.Code) async throws {
        let models = try ModelsDirectory()
        let loaded = try await load(FaultBundle.make("fails", config: ["mode": "fail", "failWith": failWith], in: models))
        defer { loaded.instance.destroy() }
        for _ in 0..<3 {
            let error = try #require(loaded.instance.infer([FaultBundle.input([1])], context: .unbounded).failure)
            #expect(error.code == code)
            #expect(error.message.contains("fault plugin (mode fail)"), "\(error.message)")
        }
    }

    @Test func failWithoutFailWithIsUnavailable() async throws {
        let models = try ModelsDirectory()
        let loaded = try await load(FaultBundle.make("fails", config: ["mode": "fail"], in: models))
        defer { loaded.instance.destroy() }
        #expect(loaded.instance.infer([FaultBundle.input([1])], context: .unbounded).failure?.code == .unavailable)
    }

    @Test func flakyWithFailEveryFailsExactlyEveryNthCall() async throws {
        let models = try ModelsDirectory()
        let loaded = try await load(FaultBundle.make("every-third", config: ["mode": "flaky", "failEvery": 3, "failWith": "internal"], in: models))
        defer { loaded.instance.destroy() }
        let call = { loaded.instance.infer([FaultBundle.input([1])], context: .unbounded) }
        let failed = (1...12).filter { _ in call().failure != nil }
        #expect(failed == [3, 6, 9, 12])
        // Calls 13 and 14 succeed; 15 fails, and says which call it was.
        #expect(call().failure == nil)
        #expect(call().failure == nil)
        let error = try #require(call().failure)
        #expect(error.code == .pluginError)
        #expect(error.message.contains("call 15 fails (failEvery 3)"), "\(error.message)")
    }

    @Test func flakyWithFailEveryKeepsItsShareUnderConcurrentCalls() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make("every-other", config: ["mode": "flaky", "failEvery": 2], in: models, limits: ["maxConcurrency": 4])
        let loaded = try await load(directory)
        defer { loaded.instance.destroy() }
        let instance = loaded.instance
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for thread in 0..<4 {
                group.addTask {
                    // Counts failures; a wrong answer counts 1,000.
                    try await onThread {
                        (0..<50).reduce(0) { count, index in
                            let value = Float(thread * 100 + index)
                            switch instance.infer([FaultBundle.input([value])], context: .unbounded) {
                            case .success(let y): return count + (FaultBundle.values(of: y[0]) == [value] ? 0 : 1_000)
                            case .failure: return count + 1
                            }
                        }
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(failures == 100)
        let counters = try FaultCounters(bundle: directory)
        #expect(counters.calls == 200)
        #expect(counters.finished == 200)
    }

    @Test func flakyWithASeedIsReproducible() async throws {
        let models = try ModelsDirectory()
        func pattern(_ name: String, seed: Int, rate: Double = 0.3) async throws -> [Bool] {
            let loaded = try await load(FaultBundle.make(name, config: ["mode": "flaky", "failureRate": rate, "seed": seed], in: models))
            defer { loaded.instance.destroy() }
            return (0..<400).map { _ in loaded.instance.infer([FaultBundle.input([1])], context: .unbounded).failure != nil }
        }
        // Two instances in two copies of the library: the same seed, the same sequence.
        let first = try await pattern("seeded-a", seed: 42)
        let again = try await pattern("seeded-b", seed: 42)
        let other = try await pattern("seeded-c", seed: 7)
        #expect(first == again)
        #expect(first != other)
        let share = Double(first.filter { $0 }.count) / Double(first.count)
        #expect(share > 0.2 && share < 0.4, "share \(share)")
        #expect(try await pattern("never", seed: 1, rate: 0).allSatisfy { !$0 })
        #expect(try await pattern("always", seed: 1, rate: 1).allSatisfy { $0 })
    }

    // MARK: The file switch

    @Test func controlledFailsWhileItsFileExistsAndRecoversWhenItIsRemoved() async throws {
        let models = try ModelsDirectory()
        let switchFile = models.path + "/fail-now"
        let loaded = try await load(FaultBundle.make("controlled", config: ["mode": "controlled", "failWhileFileExists": switchFile], in: models))
        defer { loaded.instance.destroy() }
        let call = { loaded.instance.infer([FaultBundle.input([4])], context: .unbounded) }

        #expect(try call().get().first.map(FaultBundle.values) == [4])
        #expect(FileManager.default.createFile(atPath: switchFile, contents: Data()))
        let error = try #require(call().failure)
        #expect(error.code == .unavailable)
        #expect(error.message.contains("failing while \(switchFile) exists"), "\(error.message)")
        #expect(call().failure != nil)
        try FileManager.default.removeItem(atPath: switchFile)
        #expect(try call().get().first.map(FaultBundle.values) == [4])
    }

    @Test func theFileSwitchWorksInAnyModeWithItsOwnStatus() async throws {
        let models = try ModelsDirectory()
        let switchFile = models.path + "/batch-fails"
        #expect(FileManager.default.createFile(atPath: switchFile, contents: Data()))
        let config: [String: Any] = ["mode": "batch", "failWhileFileExists": switchFile, "failWith": "internal"]
        let loaded = try await load(FaultBundle.make("switched-batch", config: config, in: models))
        defer { loaded.instance.destroy() }
        #expect(loaded.instance.infer([FaultBundle.input([3])], context: .unbounded).failure?.code == .pluginError)
        try FileManager.default.removeItem(atPath: switchFile)
        #expect(try loaded.instance.infer([FaultBundle.input([3])], context: .unbounded).get().first.map(FaultBundle.values) == [6])
    }

    // MARK: Failing creates

    @Test(arguments: [("unavailable", true), ("internal", false)])
    func failCreateFailsTheLoadAndSaysWhetherItIsTransient(status: String, isTransient: Bool) async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make("no-create", config: ["failCreate": status], in: models)
        for _ in 0..<2 {
            let error = try #require(await loadError(directory))
            #expect(error.code == .createFailed)
            #expect(error.isTransient == isTransient)
            #expect(error.message.contains("failCreate \"\(status)\""), "\(error.message)")
        }
        let counters = try FaultCounters(bundle: directory)
        #expect(counters.createAttempts == 2)
        #expect(counters.creates == 0)
    }

    // MARK: Batching and counters

    @Test func batchDoublesEveryRowAndCountsCallsAndRows() async throws {
        let models = try ModelsDirectory()
        let directory = try FaultBundle.make("doubles", config: ["mode": "batch", "counterKey": "doubles"], in: models, inputShape: [-1, 2])
        let loaded = try await load(directory)
        defer { loaded.instance.destroy() }
        #expect(loaded.instance.supportsBatching)
        let counters = try FaultCounters(bundle: directory, key: "doubles")
        #expect(counters.library.hasSuffix("/libFaultBatchPlugin.so"))

        let three = try loaded.instance.infer([FaultBundle.input([1, 2, 3, 4, 5, 6], shape: [3, 2])], context: .unbounded).get()
        #expect(three.first?.shape == [3, 2])
        #expect(three.first.map(FaultBundle.values) == [2, 4, 6, 8, 10, 12])
        let one = try loaded.instance.infer([FaultBundle.input([-1, 0.5], shape: [1, 2])], context: .unbounded).get()
        #expect(one.first.map(FaultBundle.values) == [-2, 1])
        #expect(counters.batchCalls == 2)
        #expect(counters.batchRows == 4)
        // Another key reads nothing; a reset empties this one.
        #expect(try FaultCounters(bundle: directory, key: "other").batchCalls == 0)
        counters.reset()
        #expect(counters.batchCalls == 0)
        #expect(counters.batchRows == 0)
    }

    @Test func counterKeysKeepInstancesOfOneLibraryApart() async throws {
        let models = try ModelsDirectory()
        // The same bundle path twice: the second load maps the same copy of the library.
        let directory = try FaultBundle.make("keyed", config: ["counterKey": "first"], in: models)
        let first = try await load(directory)
        try FaultBundle.make("keyed", config: ["counterKey": "second"], in: models)
        let second = try await load(directory)
        for _ in 0..<3 { _ = first.instance.infer([FaultBundle.input([1])], context: .unbounded) }
        _ = second.instance.infer([FaultBundle.input([1])], context: .unbounded)
        let firstCounters = try FaultCounters(bundle: directory, key: "first")
        let secondCounters = try FaultCounters(bundle: directory, key: "second")
        #expect(firstCounters.calls == 3)
        #expect(secondCounters.calls == 1)
        first.instance.destroy()
        second.instance.destroy()
        #expect(firstCounters.creates == 1 && firstCounters.destroys == 1)
        #expect(secondCounters.creates == 1 && secondCounters.destroys == 1)
    }
}

// MARK: - Helpers

/// A config the plugin refuses at `create`, and a fragment of the message that says why.
struct ConfigRefusal: Sendable, CustomTestStringConvertible {
    var json: String
    var fragment: String

    var testDescription: String { json }

    func config() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    static let all: [ConfigRefusal] = [
        .init(json: #"{"mode":"slow","delay":5}"#, fragment: #"config key "delay" is unknown; the keys are mode, delayMs"#),
        .init(json: #"{"mode":"sideways"}"#, fragment: #"config "mode" must be one of echo, slow, hang"#),
        .init(json: #"{"mode":{"a":1}}"#, fragment: #"config "mode" must be a string, a number or a boolean"#),
        .init(json: #"{"mode":null}"#, fragment: #"config "mode" must be a string, a number or a boolean"#),
        .init(json: #"{"mode":"slow","delayMs":"5"}"#, fragment: #"config "delayMs" must be a number"#),
        .init(json: #"{"mode":"slow","delayMs":1.5}"#, fragment: #"config "delayMs" must be a whole number from 0 to 3600000"#),
        .init(json: #"{"mode":"slow"}"#, fragment: #"mode "slow" needs "delayMs""#),
        .init(json: #"{"mode":"spin"}"#, fragment: #"mode "spin" needs "spinMs""#),
        .init(json: #"{"mode":"fail","delayMs":5}"#, fragment: #"config key "delayMs" does not apply to mode "fail""#),
        .init(json: #"{"failWith":"internal"}"#, fragment: #"config key "failWith" does not apply to mode "echo""#),
        .init(json: #"{"mode":"hang","honorCancel":1}"#, fragment: #"config "honorCancel" must be a boolean"#),
        .init(json: #"{"mode":"flaky"}"#, fragment: #"needs exactly one of "failEvery" and "failureRate""#),
        .init(json: #"{"mode":"flaky","failEvery":2,"failureRate":0.5}"#, fragment: #"needs exactly one of "failEvery" and "failureRate""#),
        .init(json: #"{"mode":"flaky","failEvery":0}"#, fragment: #"config "failEvery" must be a whole number from 1"#),
        .init(json: #"{"mode":"flaky","failureRate":1.5}"#, fragment: #"config "failureRate" must be a number from 0 to 1"#),
        .init(json: #"{"mode":"flaky","failEvery":2,"seed":1}"#, fragment: #"config "seed" applies only with "failureRate""#),
        .init(json: #"{"mode":"fail","failWith":"teapot"}"#, fragment: #"config "failWith" must be "unavailable", "internal" or "invalid_input", not "teapot""#),
        .init(json: #"{"mode":"controlled"}"#, fragment: #"mode "controlled" needs "failWhileFileExists""#),
        .init(json: #"{"failCreate":"invalid_input"}"#, fragment: #"config "failCreate" must be "unavailable" or "internal""#),
        .init(json: #"{"failCreateTimes":2}"#, fragment: #"config "failCreateTimes" applies only with "failCreate""#),
        .init(json: #"{"counterKey":"\#(String(repeating: "k", count: 64))"}"#, fragment: #"config "counterKey" must be at most 63 bytes"#),
    ]
}

/// Loads the bundle at `directory` on a thread of its own.
func load(_ directory: String) async throws -> PluginLoader.LoadedBundle {
    try await onThread { try PluginLoader().load(bundleAt: directory) }
}

/// Why the bundle at `directory` does not load, on a thread of its own; `nil` if it loads (its
/// instance is then destroyed).
func loadError(_ directory: String) async -> BundleError? {
    try? await onThread { () -> BundleError? in
        do throws(BundleError) {
            try PluginLoader().load(bundleAt: directory).instance.destroy()
            return nil
        } catch {
            return error
        }
    }
}

extension Result {
    /// The error, if the result is one.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
