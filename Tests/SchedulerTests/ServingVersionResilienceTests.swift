import CircuitBreaker
import Foundation
import ModelHostCore
import ModelHostTestKit
import PluginLoader
import Synchronization
import Testing

@testable import Scheduler

/// A version's breaker, retries and batching on real threads with C fixtures; their exact
/// rules are tested on the pure state machines.
@Suite struct ServingVersionResilienceTests {
    /// Loads fixture `name` built from `infer`, with manifest `sections` and `limits`.
    private func load(
        _ name: String, infer: String, prelude: String = "", capabilities: String = "0", limits: [String: Any] = [:],
        sections: [String: Any] = [:], scheduler: Scheduler, models: ModelsDirectory
    ) async throws -> (serving: ServingVersion, library: String) {
        let source = FixtureSource.make(prelude: prelude, infer: infer, capabilities: capabilities)
        let directory = try await FixtureBundle.make(name, source: source, in: models, limits: limits, sections: sections)
        let loaded = try await scheduler.load(bundleAt: directory, name: name, version: "1.0.0").get()
        return (loaded.serving, directory + "/lib\(name).so")
    }

    private func outcome(_ serving: ServingVersion, _ value: Float = 1, timeout: Duration = .seconds(5)) async -> Result<[Tensor], ModelHostError> {
        do {
            return .success(try await serving.infer([FixtureBundle.input(value)], timeout: timeout))
        } catch {
            return .failure(error)
        }
    }

    private static let failing = #"mh_error_set(error, "broken"); return MH_ERROR_INTERNAL;"#

    // MARK: The breaker

    @Test func aFailingVersionsBreakerOpensRefusesFastThenProbesAgain() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let transitions = LockedBox<[BreakerTransition]>([])
        let breakers = BreakerRegistry()
        let events = Task { for await event in breakers.events { transitions.withLock { $0.append(event.transition) } } }
        let withRegistry = Scheduler(breakers: breakers)
        let (serving, library) = try await load(
            "breaks", infer: Self.failing, sections: ["breaker": ["consecutiveFailures": 3, "openDurationMs": 1500, "halfOpenProbes": 1]],
            scheduler: withRegistry, models: models
        )
        let infers = try FixtureBundle.counter("fixture_infers", inLibrary: library)
        for _ in 0..<3 {
            #expect((await outcome(serving)).failure?.code == .pluginError)
        }
        #expect(serving.breakerSnapshot.phase == .open)
        // Open: refused before the plugin, with the time left.
        let refused = await outcome(serving).failure
        #expect(refused?.code == .unavailable)
        #expect(refused?.retryAfter.map { $0 > .zero && $0 <= .milliseconds(1500) } == true)
        #expect(serving.breakerRefusal()?.code == .unavailable)
        #expect(infers() == 3)
        // After the open duration one probe goes out; it fails, and the breaker opens again.
        try await Task.sleep(for: .milliseconds(1600))
        #expect(serving.breakerRefusal() == nil)
        #expect((await outcome(serving)).failure?.code == .pluginError)
        #expect(infers() == 4)
        #expect(serving.breakerSnapshot.phase == .open)
        #expect(serving.breakerSnapshot.opens == 2)
        await breakers.finish()
        await events.value
        #expect(transitions.value.map(\.to) == [.open, .halfOpen, .open])
        _ = await withRegistry.shutDownAll(gracePeriod: .seconds(2))
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(1))
    }

    @Test func callersFaultsAndOverloadDoNotCountAgainstTheBreaker() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let refusing = #"mh_error_set(error, "bad input"); return MH_ERROR_INVALID_INPUT;"#
        let (serving, _) = try await load(
            "picky", infer: refusing, sections: ["breaker": ["consecutiveFailures": 1, "minimumCalls": 1]], scheduler: scheduler, models: models
        )
        for _ in 0..<5 {
            #expect((await outcome(serving)).failure?.code == .pluginRefusedInput)
        }
        #expect(serving.breakerSnapshot.phase == .closed)
        #expect(serving.breakerSnapshot.callsInWindow == 0)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func aHungProbeIsEndedByItsDeadline() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let gate = FixtureSource.gate(seconds: 5)
        let (serving, library) = try await load(
            "hangs", infer: gate.wait + "return MH_OK;", prelude: gate.prelude, limits: ["maxConcurrency": 2],
            sections: ["breaker": ["consecutiveFailures": 1, "openDurationMs": 100, "halfOpenProbes": 1]], scheduler: scheduler, models: models
        )
        #expect((await outcome(serving, timeout: .milliseconds(500))).failure?.code == .timeout)
        #expect(serving.breakerSnapshot.phase == .open)
        try await Task.sleep(for: .milliseconds(200))
        // The probe hangs too: its deadline fails it and the breaker reopens, not wedged half-open.
        #expect((await outcome(serving, timeout: .milliseconds(500))).failure?.code == .timeout)
        #expect(serving.breakerSnapshot.phase == .open)
        #expect(serving.breakerSnapshot.opens == 2)
        try FixtureBundle.function("fixture_open_gate", inLibrary: library)()
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    @Test func anOperatorCanForceTheBreakerOpenAndCloseIt() async throws {
        let models = try ModelsDirectory()
        let breakers = BreakerRegistry()
        let scheduler = Scheduler(breakers: breakers)
        let (serving, library) = try await load("operated", infer: FixtureSource.echo, scheduler: scheduler, models: models)
        let snapshot = try await breakers.override(model: "operated", version: "1.0.0", to: .forcedOpen)
        #expect(snapshot.phase == .forcedOpen)
        let refused = await outcome(serving).failure
        #expect(refused?.code == .unavailable)
        #expect(refused?.retryAfter == nil)
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() == 0)
        _ = try await breakers.override(model: "operated", version: "1.0.0", to: .closed)
        #expect((try? await outcome(serving).get())?.first?.data == floatBytes([1]))
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
        await breakers.finish()
    }

    // MARK: Retries

    /// An `infer` body failing with MH_ERROR_UNAVAILABLE on every call whose number (from 1)
    /// `condition` holds for, else echoing.
    private static func unavailable(when condition: String) -> (prelude: String, infer: String) {
        (
            "static int calls = 0;",
            """
            int call = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
            if (\(condition)) { mh_error_set(error, "busy"); return MH_ERROR_UNAVAILABLE; }
            """ + FixtureSource.echo
        )
    }

    @Test func anUnavailableCallIsRetriedAndSucceeds() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let plugin = Self.unavailable(when: "call % 2 == 1")
        let (serving, library) = try await load(
            "retried", infer: plugin.infer, prelude: plugin.prelude,
            sections: ["retry": ["maxAttempts": 2, "baseDelayMs": 5, "maxDelayMs": 5], "breaker": ["consecutiveFailures": 100, "minimumCalls": 100, "windowSize": 100]],
            scheduler: scheduler, models: models
        )
        for index in 0..<5 {
            #expect((try? await outcome(serving, Float(index)).get())?.first?.data == floatBytes([Float(index)]))
        }
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() == 10)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func aPluginErrorIsNotRetried() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (serving, library) = try await load(
            "not-retried", infer: Self.failing, sections: ["retry": ["maxAttempts": 5, "baseDelayMs": 1, "maxDelayMs": 1]],
            scheduler: scheduler, models: models
        )
        #expect((await outcome(serving)).failure?.code == .pluginError)
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() == 1)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func anOpenBreakerStopsRetries() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let plugin = Self.unavailable(when: "1")
        let (serving, library) = try await load(
            "stopped", infer: plugin.infer, prelude: plugin.prelude,
            sections: ["retry": ["maxAttempts": 10, "baseDelayMs": 1, "maxDelayMs": 1], "breaker": ["consecutiveFailures": 3]],
            scheduler: scheduler, models: models
        )
        // The third attempt opens the breaker; the caller gets the plugin's own error.
        let failure = await outcome(serving).failure
        #expect(failure?.code == .unavailable)
        #expect(failure?.message.contains("busy") == true)
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() == 3)
        #expect(serving.breakerSnapshot.phase == .open)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func aRetryNeverRunsPastTheDeadline() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let plugin = Self.unavailable(when: "1")
        let (serving, library) = try await load(
            "late", infer: plugin.infer, prelude: plugin.prelude,
            sections: ["retry": ["maxAttempts": 10, "baseDelayMs": 10_000, "maxDelayMs": 10_000], "breaker": ["consecutiveFailures": 100, "minimumCalls": 100, "windowSize": 100]],
            scheduler: scheduler, models: models
        )
        let clock = ContinuousClock()
        for _ in 0..<10 {
            var failure: ModelHostError?
            let elapsed = await clock.measure { failure = await outcome(serving, timeout: .milliseconds(200)).failure }
            // A backoff of up to 10 s is made only when it ends before the deadline, so every
            // caller has its answer about when its 200 ms are up, never 10 s later.
            #expect(failure?.code == .unavailable || failure?.code == .timeout)
            #expect(elapsed < .seconds(2), "a request took \(elapsed)")
        }
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() >= 10)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    // MARK: Batching

    /// A batch-aware fixture: echoes `x` as `y`, and counts its calls.
    private static let batchingCapability = "MH_CAPABILITY_BATCHING"

    @Test func concurrentCallersEachGetTheirOwnRowsFromFewerCalls() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (serving, library) = try await load(
            "batched", infer: FixtureSource.sleepingEcho(milliseconds: 20), capabilities: Self.batchingCapability,
            limits: ["maxBatch": 8, "batchDelayMs": 50, "maxConcurrency": 1, "maxQueue": 64], scheduler: scheduler, models: models
        )
        let infers = try FixtureBundle.counter("fixture_infers", inLibrary: library)
        let warm = infers()
        let callers = 24
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<callers {
                group.addTask {
                    let outputs = try await serving.infer([FixtureBundle.input(Float(index))], timeout: .seconds(10))
                    #expect(outputs.first?.data == floatBytes([Float(index)]))
                    #expect(outputs.first?.shape == [1])
                }
            }
            try await group.waitForAll()
        }
        let calls = infers() - warm
        #expect(calls >= callers / 8)
        #expect(calls < callers / 2)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func requestsOfDifferentShapesAreNotJoined() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (serving, library) = try await load(
            "shapes", infer: FixtureSource.echo, capabilities: Self.batchingCapability,
            limits: ["maxBatch": 8, "batchDelayMs": 100, "maxConcurrency": 1],
            sections: [
                "inputs": [["name": "x", "datatype": "FP32", "shape": [-1, -1]]],
                "outputs": [["name": "y", "datatype": "FP32", "shape": [-1, -1]]],
            ],
            scheduler: scheduler, models: models
        )
        let infers = try FixtureBundle.counter("fixture_infers", inLibrary: library)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for width in [2, 3] {
                group.addTask {
                    let values = (0..<width).map(Float.init)
                    let input = try Tensor(name: "x", datatype: .fp32, shape: [1, width], data: floatBytes(values))
                    let outputs = try await serving.infer([input], timeout: .seconds(10))
                    #expect(outputs.first?.shape == [1, width])
                    #expect(outputs.first?.data == floatBytes(values))
                }
            }
            try await group.waitForAll()
        }
        #expect(infers() == 2)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func aManifestAskingToBatchAPluginThatCannotIsRefused() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try await FixtureBundle.make("unbatchable", source: FixtureSource.make(infer: FixtureSource.echo), in: models, limits: ["batchDelayMs": 5])
        guard case .failure(let error) = await scheduler.load(bundleAt: directory, name: "unbatchable", version: "1.0.0") else {
            Issue.record("a plugin without batch support was batched")
            return
        }
        #expect(error.code == .invalidManifest)
        #expect(error.message.contains("MH_CAPABILITY_BATCHING"))
    }
}

extension Result {
    /// The error, if any.
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
