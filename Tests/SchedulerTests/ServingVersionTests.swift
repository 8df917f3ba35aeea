import Foundation
import ModelHostCore
import ModelHostTestKit
import PluginLoader
import Synchronization
import Testing

@testable import Scheduler

/// One version's execution on real threads, with C fixtures: where plugin code runs, the
/// bulkhead, deadlines, cancellation and an exact count of `destroy` calls.
@Suite struct ServingVersionTests {
    /// Events as they arrive, from any thread.
    final class EventBox: Sendable {
        private let state = Mutex<[SchedulerEvent]>([])
        func append(_ event: SchedulerEvent) { state.withLock { $0.append(event) } }
        var events: [SchedulerEvent] { state.withLock { $0 } }
    }

    /// Loads a fixture built from `source`, returning it and its library's path.
    private func load(
        _ name: String, source: String, limits: [String: Any] = [:], warmup: Bool = false,
        outputs: [[String: Any]] = FixtureBundle.defaultOutputs, scheduler: Scheduler, models: ModelsDirectory
    ) async throws -> (version: Scheduler.LoadedVersion, library: String) {
        let directory = try await FixtureBundle.make(name, source: source, in: models, limits: limits, warmup: warmup, outputs: outputs)
        let loaded = try await scheduler.load(bundleAt: directory, name: name, version: "1.0.0").get()
        return (loaded, directory + "/lib\(name).so")
    }

    // MARK: Destroy, exactly once

    @Test(arguments: [0, 1, 10, 64, 100])
    func destroyRunsOnceAfterAnyNumberOfCalls(calls: Int) async throws {
        let models = try ModelsDirectory()
        let events = EventBox()
        let scheduler = Scheduler { events.append($0) }
        let (loaded, library) = try await load("counted-\(calls)", source: FixtureSource.make(infer: FixtureSource.echo), limits: ["maxConcurrency": 4, "maxQueue": 128], scheduler: scheduler, models: models)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<calls {
                group.addTask {
                    let outputs = try await loaded.serving.infer([FixtureBundle.input(Float(index))], timeout: .seconds(10))
                    #expect(outputs.first?.data == floatBytes([Float(index)]))
                }
            }
            try await group.waitForAll()
        }
        let creates = try FixtureBundle.counter("fixture_creates", inLibrary: library)
        let destroys = try FixtureBundle.counter("fixture_destroys", inLibrary: library)
        let infers = try FixtureBundle.counter("fixture_infers", inLibrary: library)
        #expect(creates() == 1)
        #expect(destroys() == 0)
        #expect(infers() == calls)

        let report = await scheduler.shutDown(loaded.serving, gracePeriod: .seconds(5))
        #expect(report.isDestroyed)
        #expect(report.stillRunning == 0)
        #expect(destroys() == 1)
        #expect(loaded.serving.lifecycle == .retired)
        // A retired version takes nothing.
        guard case .refused(let error) = loaded.serving.submit(InferenceJob(inputs: .tensors([FixtureBundle.input()]), timeout: .seconds(1)) { _ in }) else {
            Issue.record("a retired version took a job")
            return
        }
        #expect(error.code == .modelNotReady)
        #expect(events.events.contains { $0.kind == .shutDown(isDestroyed: true, stillRunning: 0) })
    }

    @Test func aFailedWarmupDestroysItsInstanceOnTheLoadThread() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let source = FixtureSource.make(infer: #"mh_error_set(error, "cold"); return MH_ERROR_INTERNAL;"#)
        let directory = try await FixtureBundle.make("cold", source: source, in: models, warmup: true)
        let result = await scheduler.load(bundleAt: directory, name: "cold", version: "1.0.0")
        guard case .failure(let error) = result else {
            Issue.record("a bundle whose warmup fails loaded")
            return
        }
        #expect(error.code == .warmupFailed)
        let library = directory + "/libcold.so"
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: library)() == 1)
        #expect(try FixtureBundle.counter("fixture_destroys", inLibrary: library)() == 1)
        let loadThread = try FixtureBundle.thread(2, inLibrary: library)
        #expect(try FixtureBundle.thread(4, inLibrary: library) == loadThread)
        #expect(loadThread != (try currentThreadID()))
    }

    // MARK: Threads

    @Test func everyPieceOfPluginCodeRunsOnTheVersionsOwnThread() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, library) = try await load("threads", source: FixtureSource.make(infer: FixtureSource.echo), warmup: true, scheduler: scheduler, models: models)
        var callers: Set<Int64> = []
        for _ in 0..<4 {
            callers.insert(try currentThreadID())
            _ = try await loaded.serving.infer([FixtureBundle.input()], timeout: .seconds(5))
            callers.insert(try currentThreadID())
        }
        _ = await scheduler.shutDown(loaded.serving, gracePeriod: .seconds(5))
        let threads = try (0...4).map { try FixtureBundle.thread(Int32($0), inLibrary: library) }
        #expect(!threads.contains(0), "\(threads)")
        // dlopen's constructor, the entry, create, infer and destroy: one thread (maxConcurrency
        // 1), the version's own, never a caller's.
        #expect(Set(threads).count == 1, "\(threads)")
        #expect(callers.isDisjoint(with: threads))
    }

    @Test func concurrentCallsNeverExceedMaxConcurrencyAndReachIt() async throws {
        // Counts the calls in flight and reports the most it has seen; each call lasts 30 ms.
        let source = FixtureSource.make(
            prelude: "static int in_flight = 0; static int most_seen = 0;",
            infer: """
                int now = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
                int seen = __atomic_load_n(&most_seen, __ATOMIC_SEQ_CST);
                while (now > seen && !__atomic_compare_exchange_n(&most_seen, &seen, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
                usleep(30000);
                __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
                return fixture_write_int(sink, "most_seen", __atomic_load_n(&most_seen, __ATOMIC_SEQ_CST), error);
                """
        )
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let outputs: [[String: Any]] = [["name": "most_seen", "datatype": "INT32", "shape": [1]]]
        let (loaded, _) = try await load("counted", source: source, limits: ["maxConcurrency": 3, "maxQueue": 16], outputs: outputs, scheduler: scheduler, models: models)
        let mostSeen = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<12 {
                group.addTask { try int32(of: await loaded.serving.infer([FixtureBundle.input()], timeout: .seconds(10))) }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        #expect(mostSeen == 3)
        _ = await scheduler.shutDown(loaded.serving, gracePeriod: .seconds(5))
    }

    // MARK: The bulkhead and deadlines

    @Test func aHungCallAnswersItsCallerAtTheDeadlineAndHoldsItsSlot() async throws {
        let (prelude, wait) = FixtureSource.gate(seconds: 20)
        let source = FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;")
        let models = try ModelsDirectory()
        let events = EventBox()
        let scheduler = Scheduler { events.append($0) }
        let (loaded, library) = try await load("hung", source: source, limits: ["maxConcurrency": 1, "maxQueue": 1, "timeoutMs": 200], scheduler: scheduler, models: models)
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: library)
        defer { openGate() }
        let serving = loaded.serving

        let clock = ContinuousClock()
        let started = clock.now
        async let hung = result(of: serving, timeout: .milliseconds(200))
        try await Task.sleep(for: .milliseconds(50))
        async let queued = result(of: serving, timeout: .milliseconds(200))
        try await Task.sleep(for: .milliseconds(50))
        // The thread is held and the queue full: refused at once.
        let (refused, refusedAfter) = await timedResult(of: serving, timeout: .milliseconds(200))
        #expect(refused.error?.code == .overloaded)
        #expect(refusedAfter < .milliseconds(50))

        let (first, second) = await (hung, queued)
        #expect(first.error?.code == .timeout)
        #expect(second.error?.code == .timeout)
        let elapsed = clock.now - started
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(5), "\(elapsed)")
        #expect(first.error?.message.contains("did not answer within 200 ms") == true)

        // The slot is still held by the hung call: the version says it cannot serve.
        #expect(!serving.isReady)
        #expect(serving.runningCount == 1)
        #expect(serving.queuedCount == 0)

        // Once the plugin returns, the slot frees up and the overrun is reported.
        openGate()
        try await waitUntil { serving.runningCount == 0 }
        #expect(serving.isReady)
        try await waitUntil { events.events.contains { if case .callOverranDeadline = $0.kind { true } else { false } } }
        let after = try await serving.infer([FixtureBundle.input()], timeout: .seconds(1))
        #expect(after.isEmpty)
        _ = await scheduler.shutDown(serving, gracePeriod: .seconds(5))
    }

    @Test func aCallPastItsDeadlineSeesItsCancellationFlag() async throws {
        // Polls the flag for up to 5 s and reports how it ended: 1 when it saw the flag.
        let source = FixtureSource.make(
            prelude: "static int saw_flag = 0; __attribute__((visibility(\"default\"))) int fixture_saw_flag(void) { return saw_flag; }",
            infer: """
                for (int i = 0; i < 5000; i++) {
                    if (mh_call_is_cancelled(context)) { __atomic_store_n(&saw_flag, 1, __ATOMIC_SEQ_CST); return MH_ERROR_UNAVAILABLE; }
                    usleep(1000);
                }
                return MH_OK;
                """,
            withContext: true
        )
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, library) = try await load("polls", source: source, limits: ["timeoutMs": 100], scheduler: scheduler, models: models)
        let outcome = await result(of: loaded.serving, timeout: .milliseconds(100))
        #expect(outcome.error?.code == .timeout)
        let sawFlag = try FixtureBundle.counter("fixture_saw_flag", inLibrary: library)
        try await waitUntil { sawFlag() == 1 }
        try await waitUntil { loaded.serving.runningCount == 0 }
        _ = await scheduler.shutDown(loaded.serving, gracePeriod: .seconds(5))
    }

    @Test func theCallersTimeoutShortensTheDeadline() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, _) = try await load("slow", source: FixtureSource.make(infer: FixtureSource.sleepingEcho(milliseconds: 300)), limits: ["timeoutMs": 5000], scheduler: scheduler, models: models)
        // Timed where the answer is given, not where the test's task resumes (the test pool is busy).
        let (outcome, elapsed) = await timedResult(of: loaded.serving, timeout: .milliseconds(50))
        #expect(outcome.error?.code == .timeout)
        #expect(elapsed >= .milliseconds(50) && elapsed < .milliseconds(280), "\(elapsed)")
        _ = await scheduler.shutDown(loaded.serving, gracePeriod: .seconds(5))
    }

    @Test func cancellingTheTaskTakesAQueuedCallOutOfTheQueue() async throws {
        let (prelude, wait) = FixtureSource.gate(seconds: 20)
        let source = FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;")
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, library) = try await load("cancelled", source: source, limits: ["maxQueue": 4, "timeoutMs": 10_000], scheduler: scheduler, models: models)
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: library)
        defer { openGate() }
        let serving = loaded.serving
        let holder = Task { await result(of: serving, timeout: .seconds(10)) }
        try await waitUntil { serving.runningCount == 1 }
        let waiting = Task { await result(of: serving, timeout: .seconds(10)) }
        try await waitUntil { serving.queuedCount == 1 }
        waiting.cancel()
        #expect(await waiting.value.error?.code == .cancelled)
        #expect(serving.queuedCount == 0)
        openGate()
        #expect(await holder.value.error == nil)
        let infers = try FixtureBundle.counter("fixture_infers", inLibrary: library)
        #expect(infers() == 1)
        _ = await scheduler.shutDown(serving, gracePeriod: .seconds(5))
    }

    // MARK: Shutting down

    @Test func shuttingDownWithAHungCallReturnsAtTheGracePeriodAndDestroysLater() async throws {
        let (prelude, wait) = FixtureSource.gate(seconds: 20)
        let source = FixtureSource.make(prelude: prelude, infer: wait + " return MH_OK;")
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, library) = try await load("stuck", source: source, limits: ["timeoutMs": 60_000], scheduler: scheduler, models: models)
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: library)
        defer { openGate() }
        let serving = loaded.serving
        let caller = Task { await result(of: serving, timeout: .seconds(60)) }
        try await waitUntil { serving.runningCount == 1 }

        let started = ContinuousClock.now
        let report = await scheduler.shutDown(serving, gracePeriod: .milliseconds(300))
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(3), "\(elapsed)")
        #expect(!report.isDestroyed)
        #expect(report.stillRunning == 1)
        // Its caller is answered, not left waiting.
        #expect(await caller.value.error?.code == .modelNotReady)
        let destroys = try FixtureBundle.counter("fixture_destroys", inLibrary: library)
        #expect(destroys() == 0)
        // Never destroyed while the call runs; destroyed once it returns.
        openGate()
        try await waitUntil { destroys() == 1 }
    }

    @Test func drainingFinishesQueuedWorkBeforeDestroying() async throws {
        let (prelude, wait) = FixtureSource.gate(seconds: 20)
        let source = FixtureSource.make(prelude: prelude, infer: wait + FixtureSource.echo)
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let (loaded, library) = try await load("drained", source: source, limits: ["maxQueue": 8], scheduler: scheduler, models: models)
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: library)
        defer { openGate() }
        let serving = loaded.serving
        let callers = (0..<5).map { index in Task { await result(of: serving, timeout: .seconds(10), value: Float(index)) } }
        try await waitUntil { serving.queuedCount == 4 && serving.runningCount == 1 }
        async let report = scheduler.shutDown(serving, gracePeriod: .seconds(10))
        try await waitUntil { serving.lifecycle == .draining }
        let destroys = try FixtureBundle.counter("fixture_destroys", inLibrary: library)
        #expect(destroys() == 0)
        openGate()
        #expect(await report.isDestroyed)
        for (index, caller) in callers.enumerated() {
            #expect(await caller.value.outputs?.first?.data == floatBytes([Float(index)]))
        }
        #expect(try FixtureBundle.counter("fixture_infers", inLibrary: library)() == 5)
        #expect(destroys() == 1)
    }
}

// MARK: - Helpers

/// How one call ended.
struct Outcome: Sendable {
    var outputs: [Tensor]?
    var error: ModelHostError?
}

/// Runs one call of `serving` and reports how it ended.
func result(of serving: ServingVersion, timeout: Duration, value: Float = 1) async -> Outcome {
    do throws(ModelHostError) {
        return Outcome(outputs: try await serving.infer([FixtureBundle.input(value)], timeout: timeout))
    } catch {
        return Outcome(error: error)
    }
}

/// Runs one call of `serving` and reports how it ended and how long after submission it was
/// answered, measured on the thread that answered it.
func timedResult(of serving: ServingVersion, timeout: Duration) async -> (Outcome, Duration) {
    let started = ContinuousClock.now
    return await withCheckedContinuation { continuation in
        let job = InferenceJob(inputs: .tensors([FixtureBundle.input()]), timeout: timeout) { result in
            let elapsed = ContinuousClock.now - started
            switch result {
            case .success(let outputs): continuation.resume(returning: (Outcome(outputs: outputs), elapsed))
            case .failure(let error): continuation.resume(returning: (Outcome(error: error), elapsed))
            }
        }
        if case .refused(let error) = serving.submit(job) {
            continuation.resume(returning: (Outcome(error: error), ContinuousClock.now - started))
        }
    }
}

/// The single INT32 element of the only output.
func int32(of outputs: [Tensor]) throws -> Int32 {
    let output = try #require(outputs.first)
    try #require(output.datatype == .int32 && output.data.count == 4)
    return output.data.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
}

/// The kernel id of the calling thread, from `/proc/thread-self` (`<pid>/task/<tid>`).
func currentThreadID() throws -> Int64 {
    let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
    return try #require(link.split(separator: "/").last.flatMap { Int64($0) })
}
