import Foundation
import ModelHostCore
import ModelHostTestKit
import PluginLoader
import Scheduler
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The fault plugin's modes that take time, and loads that fail then pass, through
/// `Scheduler.load` and ``ServingVersion``: on the versions' own threads, under real deadlines
/// (a call's deadline is its `timeout`; the HTTP edge is what caps it at `limits.timeoutMs`, so
/// the manifests here say the same). Timing bounds are wide: the machine is shared and noisy.
@Suite struct FaultPluginSchedulerTests {
    // MARK: Slow

    @Test func slowAnswersAfterItsDelay() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let serving = try await loadServing(FaultBundle.make("slow", config: ["mode": "slow", "delayMs": 300], in: models, limits: ["timeoutMs": 10_000]), scheduler)
        let (outcome, elapsed) = await timedCall(serving, [5], timeout: .seconds(10))
        #expect(try outcome.get().first.map(FaultBundle.values) == [5])
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(5), "\(elapsed)")
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    @Test func slowHonouringTheDeadlineReturnsAtIt() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let config: [String: Any] = ["mode": "slow", "delayMs": 20_000, "honorDeadline": true]
        let directory = try FaultBundle.make("slow-honours", config: config, in: models, limits: ["timeoutMs": 500])
        let serving = try await loadServing(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        let started = ContinuousClock.now
        let (outcome, _) = await timedCall(serving, [1], timeout: .milliseconds(500))
        #expect(outcome.failure?.code == .timeout)
        try #require(counters.calls == 1, "the call expired in the queue: the machine is too busy for this test")
        // The call itself gives up at the deadline, long before its 20 s delay.
        try await waitUntil(.seconds(10)) { counters.finished == 1 && serving.runningCount == 0 }
        #expect(ContinuousClock.now - started < .seconds(10))
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        #expect(counters.destroys == 1)
    }

    @Test func slowIgnoringTheDeadlineIsAnsweredAtItAndRunsOn() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make("slow-ignores", config: ["mode": "slow", "delayMs": 8000], in: models, limits: ["timeoutMs": 500])
        let serving = try await loadServing(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        let (outcome, elapsed) = await timedCall(serving, [1], timeout: .milliseconds(500))
        #expect(outcome.failure?.code == .timeout)
        #expect(elapsed < .milliseconds(2500), "answered after \(elapsed)")
        try #require(counters.calls == 1, "the call expired in the queue: the machine is too busy for this test")
        #expect(counters.finished == 0)
        #expect(serving.runningCount == 1)
        try await waitUntil(.seconds(30)) { counters.finished == 1 && serving.runningCount == 0 }
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        #expect(counters.destroys == 1)
    }

    // MARK: Hang

    @Test func aHangIsEndedByTheDeadlineAndItsThreadReturnsWhenItHonoursCancel() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make("hang-honours", config: ["mode": "hang", "honorCancel": true], in: models, limits: ["timeoutMs": 500])
        let serving = try await loadServing(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        let (outcome, elapsed) = await timedCall(serving, [1], timeout: .milliseconds(500))
        #expect(outcome.failure?.code == .timeout)
        #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(5), "\(elapsed)")
        try #require(counters.calls == 1, "the call expired in the queue: the machine is too busy for this test")
        try await waitUntil(.seconds(10)) { counters.finished == 1 && serving.runningCount == 0 }
        #expect(serving.isReady)
        let report = await scheduler.shutDown(serving, gracePeriod: .seconds(5))
        #expect(report.isDestroyed)
        #expect(counters.creates == 1 && counters.destroys == 1)
    }

    @Test func aHangThatIgnoresCancelHoldsItsSlotUntilReleased() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make("hang-ignores", config: ["mode": "hang"], in: models, limits: ["timeoutMs": 500])
        let serving = try await loadServing(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        defer { counters.releaseHangs() }
        let (outcome, _) = await timedCall(serving, [1], timeout: .milliseconds(500))
        #expect(outcome.failure?.code == .timeout)
        try #require(counters.calls == 1, "the call expired in the queue: the machine is too busy for this test")
        // Past its deadline and its cancellation, the call still holds the only slot.
        try await Task.sleep(for: .milliseconds(300))
        #expect(counters.finished == 0)
        #expect(serving.runningCount == 1)
        #expect(!serving.isReady)
        counters.releaseHangs()
        try await waitUntil(.seconds(10)) { counters.finished == 1 && serving.runningCount == 0 }
        let report = await scheduler.shutDown(serving, gracePeriod: .seconds(5))
        #expect(report.isDestroyed)
        #expect(counters.destroys == 1)
    }

    // MARK: Spin

    @Test func spinBurnsTheCPUForItsTime() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let serving = try await loadServing(FaultBundle.make("spins", config: ["mode": "spin", "spinMs": 400], in: models, limits: ["timeoutMs": 10_000]), scheduler)
        let cpuBefore = processCPUTime()
        let (outcome, elapsed) = await timedCall(serving, [2], timeout: .seconds(10))
        let cpu = processCPUTime() - cpuBefore
        #expect(try outcome.get().first.map(FaultBundle.values) == [2])
        #expect(elapsed >= .milliseconds(400), "\(elapsed)")
        // The plugin burns 400 ms of its thread's CPU time; other tests only add to the process's.
        #expect(cpu >= .milliseconds(390), "the process used \(cpu) of CPU")
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    // MARK: Loads that fail, then pass

    @Test func failCreateTimesFailsOnlyTheFirstLoadsAndTheyAreTransient() async throws {
        let models = try ModelsDirectory()
        var once = Scheduler.Configuration()
        once.loadAttempts = 1
        let scheduler = Scheduler(configuration: once)
        let directory = try FaultBundle.make("recovers", config: ["failCreate": "unavailable", "failCreateTimes": 2], in: models)
        for attempt in 1...2 {
            let result = await scheduler.load(bundleAt: directory, name: "recovers", version: "1.0.0")
            let error = try #require(result.failure, "load \(attempt) passed")
            #expect(error.code == .createFailed)
            #expect(error.isTransient)
            #expect(error.message.contains("attempt \(attempt) of the first 2"), "\(error.message)")
        }
        let loaded = try await scheduler.load(bundleAt: directory, name: "recovers", version: "1.0.0").get()
        #expect(try await loaded.serving.infer([FaultBundle.input([9])], timeout: .seconds(5)).first.map(FaultBundle.values) == [9])
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
        let counters = try FaultCounters(bundle: directory)
        #expect(counters.createAttempts == 3)
        #expect(counters.creates == 1 && counters.destroys == 1)
    }

    @Test func aLoadThePluginCannotStartYetIsRetriedWithBackoff() async throws {
        let models = try ModelsDirectory()
        var configuration = Scheduler.Configuration()
        configuration.loadAttempts = 3
        configuration.loadRetryDelay = .milliseconds(100)
        let events = LockedBox<[SchedulerEvent.Kind]>([])
        let scheduler = Scheduler(configuration: configuration) { event in events.withLock { $0.append(event.kind) } }
        let directory = try FaultBundle.make("starts-late", config: ["failCreate": "unavailable", "failCreateTimes": 2], in: models)
        let started = ContinuousClock.now
        let loaded = try await scheduler.load(bundleAt: directory, name: "starts-late", version: "1.0.0").get()
        // Backoffs of 100 ms, then 200 ms.
        #expect(started.duration(to: .now) >= .milliseconds(300))
        #expect(try await loaded.serving.infer([FaultBundle.input([4])], timeout: .seconds(5)).first.map(FaultBundle.values) == [4])
        let retries = events.value.compactMap { kind -> Int? in
            if case .loadRetrying(let attempt, _, _) = kind { return attempt }
            return nil
        }
        #expect(retries == [1, 2])
        let counters = try FaultCounters(bundle: directory)
        #expect(counters.createAttempts == 3)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(5))
    }

    @Test(arguments: [("unavailable", 3, true), ("internal", 1, false)])
    func loadsGiveUpAfterTheirAttemptsAndOnlyTransientOnesAreRetried(failCreate: String, attempts: Int, isTransient: Bool) async throws {
        let models = try ModelsDirectory()
        var configuration = Scheduler.Configuration()
        configuration.loadAttempts = 3
        configuration.loadRetryDelay = .milliseconds(10)
        let scheduler = Scheduler(configuration: configuration)
        let directory = try FaultBundle.make("never-starts", config: ["failCreate": failCreate], in: models)
        let error = try #require(await scheduler.load(bundleAt: directory, name: "never-starts", version: "1.0.0").failure)
        #expect(error.code == .createFailed)
        #expect(error.isTransient == isTransient)
        #expect(error.message.contains("gave up after 3 attempts") == isTransient)
        // The library stays mapped after a failed load, with its counters.
        #expect(try FaultCounters(bundle: directory).createAttempts == attempts)
    }

    @Test func anInvalidBundleIsNeverRetried() async throws {
        let models = try ModelsDirectory()
        var configuration = Scheduler.Configuration()
        configuration.loadRetryDelay = .seconds(10)
        let events = LockedBox<[SchedulerEvent.Kind]>([])
        let scheduler = Scheduler(configuration: configuration) { event in events.withLock { $0.append(event.kind) } }
        let directory = try FaultBundle.make("invalid", config: [:], in: models)
        try FileManager.default.removeItem(atPath: directory + "/" + FaultBundle.Library.plain.fileName)
        let error = try #require(await scheduler.load(bundleAt: directory, name: "invalid", version: "1.0.0").failure)
        #expect(error.code == .libraryMissing)
        #expect(!error.isTransient)
        #expect(events.value.isEmpty)
    }

    // MARK: Every mode under concurrent calls

    @Test(arguments: ConcurrentMode.all)
    func everyModeIsSafeUnderConcurrentCallsAndDestroysWhatItMade(mode: ConcurrentMode) async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make(
            "concurrent", config: mode.config(models), in: models, limits: ["maxConcurrency": 4, "maxQueue": 64, "timeoutMs": 20_000],
            // Each call counted as the plugin made it: no retries, no breaker refusing.
            breaker: ["consecutiveFailures": 100_000, "minimumCalls": 100_000, "windowSize": 100_000], retry: ["maxAttempts": 1]
        )
        let serving = try await loadServing(directory, scheduler)
        let calls = 48
        let outcomes = await withTaskGroup(of: (Float, Result<[Tensor], ModelHostError>).self) { group in
            for index in 0..<calls {
                group.addTask {
                    let value = Float(index)
                    do throws(ModelHostError) {
                        return (value, .success(try await serving.infer([FaultBundle.input([value])], timeout: .seconds(20))))
                    } catch {
                        return (value, .failure(error))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        var failures = 0
        for (value, outcome) in outcomes {
            switch outcome {
            case .success(let y): #expect(y.first.map(FaultBundle.values) == [value * mode.factor], "\(value)")
            case .failure(let error):
                failures += 1
                #expect(error.code == .unavailable, "\(error)")
            }
        }
        #expect(failures == mode.failures(of: calls))
        let counters = try FaultCounters(bundle: directory)
        #expect(counters.calls == calls && counters.finished == calls)
        let report = await scheduler.shutDown(serving, gracePeriod: .seconds(10))
        #expect(report.isDestroyed)
        #expect(counters.creates == 1 && counters.destroys == 1)
    }
}

// MARK: - Helpers

/// A mode run by concurrent callers, and what they must see.
struct ConcurrentMode: Sendable, CustomTestStringConvertible {
    var name: String
    /// The config's JSON; `SWITCH` stands for a path in the models directory that never exists.
    var json: String
    /// y = factor * x.
    var factor: Float = 1
    /// Fails every call, or every `failEvery`-th, or none.
    var failsEvery: Int?

    var testDescription: String { name }

    func config(_ models: ModelsDirectory) throws -> [String: Any] {
        let text = json.replacingOccurrences(of: "SWITCH", with: models.path + "/absent")
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func failures(of calls: Int) -> Int {
        failsEvery.map { calls / $0 } ?? 0
    }

    static let all: [ConcurrentMode] = [
        .init(name: "echo", json: #"{}"#),
        .init(name: "slow", json: #"{"mode":"slow","delayMs":5,"honorDeadline":true}"#),
        .init(name: "spin", json: #"{"mode":"spin","spinMs":2}"#),
        .init(name: "flaky", json: #"{"mode":"flaky","failEvery":3}"#, failsEvery: 3),
        .init(name: "fail", json: #"{"mode":"fail"}"#, failsEvery: 1),
        .init(name: "controlled", json: #"{"mode":"controlled","failWhileFileExists":"SWITCH"}"#),
        .init(name: "batch", json: #"{"mode":"batch","callCostUs":100,"rowCostUs":10}"#, factor: 2),
    ]
}

/// Loads the bundle at `directory` through `scheduler` and returns its serving version.
func loadServing(_ directory: String, _ scheduler: Scheduler) async throws -> ServingVersion {
    let name = URL(fileURLWithPath: directory).deletingLastPathComponent().lastPathComponent
    return try await scheduler.load(bundleAt: directory, name: name, version: "1.0.0").get().serving
}

/// Runs one call of `serving` with input `values` and reports how it ended and how long after
/// submission it was answered, measured on the thread that answered it (the test's own tasks
/// may resume late on a busy machine).
func timedCall(_ serving: ServingVersion, _ values: [Float], timeout: Duration) async -> (Result<[Tensor], ModelHostError>, Duration) {
    let started = ContinuousClock.now
    let input = FaultBundle.input(values)
    return await withCheckedContinuation { continuation in
        let job = InferenceJob(inputs: .tensors([input]), timeout: timeout) { result in
            continuation.resume(returning: (result, ContinuousClock.now - started))
        }
        if case .refused(let error) = serving.submit(job) {
            continuation.resume(returning: (.failure(error), ContinuousClock.now - started))
        }
    }
}

/// The CPU time the process has used so far, user and system.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func duration(_ time: timeval) -> Duration { .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec)) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}
