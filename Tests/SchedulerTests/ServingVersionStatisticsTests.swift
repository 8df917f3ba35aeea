import CircuitBreaker
import Foundation
import ModelHostCore
import ModelHostTestKit
import Telemetry
import Testing

@testable import Scheduler

/// What a version tells of its work, on real threads with the fault plugin: each job's timings
/// with its answer, and the version's counts. Timing bounds are wide or derived from instants the
/// test reads itself: the machine is shared and noisy.
@Suite struct ServingVersionStatisticsTests {
    /// A job's answer, its timings, and when it came.
    struct Answer: Sendable {
        var result: Result<[Tensor], ModelHostError>
        var timings: InferenceJob.Timings
        var answeredAt: ContinuousClock.Instant
    }

    /// A submitted job: its ticket, and its answer once it comes.
    struct Pending: Sendable {
        var ticket: ServingVersion.Ticket
        var answers: AsyncStream<Answer>

        /// Waits for the answer.
        func answer() async throws -> Answer {
            try #require(await answers.first { _ in true })
        }
    }

    /// Submits one job of input `value`, or records the refusal.
    private func submit(_ serving: ServingVersion, _ value: Float = 1, timeout: Duration = .seconds(10)) throws -> Pending {
        let (answers, continuation) = AsyncStream.makeStream(of: Answer.self)
        let job = InferenceJob(inputs: .tensors([FaultBundle.input([value])]), timeout: timeout) { result, timings in
            continuation.yield(Answer(result: result, timings: timings, answeredAt: .now))
            continuation.finish()
        }
        guard case .accepted(let ticket) = serving.submit(job) else {
            throw TestFailure("the version refused the job")
        }
        return Pending(ticket: ticket, answers: answers)
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private func load(_ directory: String, _ scheduler: Scheduler) async throws -> ServingVersion {
        let name = URL(fileURLWithPath: directory).deletingLastPathComponent().lastPathComponent
        return try await scheduler.load(bundleAt: directory, name: name, version: "1.0.0").get().serving
    }

    /// A breaker that does not open within a test's few failures.
    private static var patientBreaker: [String: Any] { ["consecutiveFailures": 100, "minimumCalls": 100, "windowSize": 100] }

    // MARK: Timings

    @Test func aCallsTimingsSayHowLongItWaitedAndRan() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let serving = try await load(
            FaultBundle.make("sleeps", config: ["mode": "slow", "delayMs": 300], in: models, limits: ["maxConcurrency": 1, "timeoutMs": 10_000]),
            scheduler
        )
        // Both submitted at once: the second waits for the first's whole call.
        let before = ContinuousClock.now
        let first = try submit(serving, 1)
        let second = try submit(serving, 2)
        let submitting = before.duration(to: .now)
        let (one, two) = (try await first.answer(), try await second.answer())
        #expect((try? one.result.get())?.first.map(FaultBundle.values(of:)) == [1])
        #expect((try? two.result.get())?.first.map(FaultBundle.values(of:)) == [2])
        for answer in [one, two] {
            #expect(answer.timings.attempts == 1)
            #expect(answer.timings.batchSize == 1)
            #expect(answer.timings.inference >= .milliseconds(300), "\(answer.timings)")
            // Waiting and running make up at most the time from submission to the answer.
            #expect(answer.timings.queued + answer.timings.inference <= before.duration(to: answer.answeredAt))
        }
        #expect(one.timings.queued < one.timings.inference, "\(one.timings)")
        // The second was taken when the first's call returned, having been submitted at most
        // `submitting` after the first began.
        #expect(two.timings.queued + submitting >= one.timings.inference, "\(one.timings), \(two.timings), \(submitting)")
        #expect(two.timings.queued >= .milliseconds(250), "\(two.timings)")
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func jobsAnsweredWithoutAPluginCallSaySoAndARunningOnesCallCountsToItsAnswer() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make("hangs", config: ["mode": "hang"], in: models, limits: ["maxConcurrency": 1, "maxQueue": 4, "timeoutMs": 10_000])
        let serving = try await load(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        let start = ContinuousClock.now
        let hung = try submit(serving, timeout: .milliseconds(600))
        try await waitUntil { counters.calls == 1 }
        let timesOut = try submit(serving, timeout: .milliseconds(300))
        let cancelled = try submit(serving)
        serving.cancel(cancelled.ticket)

        let cancel = try await cancelled.answer()
        #expect(cancel.result.failure?.code == .cancelled)
        #expect(cancel.timings.attempts == 0)
        #expect(cancel.timings.batchSize == 0)
        #expect(cancel.timings.inference == .zero)

        // Timed out in the queue: it waited until its deadline and never ran.
        let queued = try await timesOut.answer()
        #expect(queued.result.failure?.code == .timeout)
        #expect(queued.timings == InferenceJob.Timings(queued: queued.timings.queued))
        #expect(queued.timings.queued >= .milliseconds(300))

        // Timed out in the plugin: its call counts until the deadline answered it.
        let running = try await hung.answer()
        #expect(running.result.failure?.code == .timeout)
        #expect(running.timings.attempts == 1)
        #expect(running.timings.batchSize == 1)
        #expect(running.timings.queued + running.timings.inference >= .milliseconds(600))
        #expect(running.timings.queued + running.timings.inference <= start.duration(to: running.answeredAt))
        #expect(running.timings.inference > running.timings.queued, "\(running.timings)")
        counters.releaseHangs()
        try await waitUntil { counters.finished == 1 }

        // Shutting down answers what waits and what still runs, each with what it spent.
        let stillHung = try submit(serving)
        try await waitUntil { counters.calls == 2 }
        let neverRuns = try submit(serving)
        let report = await scheduler.shutDown(serving, gracePeriod: .milliseconds(300))
        #expect(report.stillRunning == 1)
        let abandoned = try await neverRuns.answer()
        #expect(abandoned.result.failure?.code == .modelNotReady)
        #expect(abandoned.timings.attempts == 0)
        #expect(abandoned.timings.queued >= .milliseconds(250))
        let abandonedRunning = try await stillHung.answer()
        #expect(abandonedRunning.result.failure?.code == .modelNotReady)
        #expect(abandonedRunning.timings.attempts == 1)
        #expect(abandonedRunning.timings.inference >= .milliseconds(250))
        counters.releaseHangs()
        try await waitUntil { counters.destroys == 1 }
    }

    // MARK: Retries

    @Test func scheduledRetriesAreCountedAndTheJobsAttemptsWithThem() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        // Calls 2 and 4 fail as unavailable: the second and third requests are retried once.
        let serving = try await load(
            FaultBundle.make(
                "flaky", config: ["mode": "flaky", "failEvery": 2], in: models,
                breaker: Self.patientBreaker, retry: ["maxAttempts": 2, "baseDelayMs": 5, "maxDelayMs": 5]
            ),
            scheduler
        )
        var attempts: [Int] = []
        for index in 0..<3 {
            let answer = try await submit(serving, Float(index)).answer()
            #expect((try? answer.result.get())?.first.map(FaultBundle.values(of:)) == [Float(index)])
            attempts.append(answer.timings.attempts)
            #expect(answer.timings.batchSize == 1)
        }
        #expect(attempts == [1, 2, 2])
        let statistics = serving.statistics
        #expect(statistics.retries == 2)
        #expect(statistics.refusedRetries == 0)
        // One call each, retries included.
        #expect(statistics.batchSizes.count == 5)
        #expect(statistics.batchSizes.counts[Histogram(upperBounds: Histogram.batchSizeBounds).bucket(of: 1)] == 5)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    @Test func retriesRefusedByAttemptsOrTheBreakerAreCountedButOtherFailuresAreNot() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let retry: [String: Any] = ["maxAttempts": 3, "baseDelayMs": 1, "maxDelayMs": 1]
        let exhausted = try await load(
            FaultBundle.make("exhausted", config: ["mode": "fail", "failWith": "unavailable"], in: models, breaker: Self.patientBreaker, retry: retry),
            scheduler
        )
        for _ in 0..<2 {
            let answer = try await submit(exhausted).answer()
            #expect(answer.result.failure?.code == .unavailable)
            #expect(answer.timings.attempts == 3)
        }
        #expect(exhausted.statistics.retries == 4)
        #expect(exhausted.statistics.refusedRetries == 2)

        // The third failure opens the breaker, which refuses its retry.
        let broken = try await load(
            FaultBundle.make(
                "opens", config: ["mode": "fail", "failWith": "unavailable"], in: models,
                breaker: ["consecutiveFailures": 3], retry: ["maxAttempts": 10, "baseDelayMs": 1, "maxDelayMs": 1]
            ),
            scheduler
        )
        #expect(try await submit(broken).answer().timings.attempts == 3)
        #expect(broken.statistics.retries == 2)
        #expect(broken.statistics.refusedRetries == 1)
        #expect(broken.statistics.breakerTransitions[.open] == 1)

        // A plugin error is never retried, so no retry of it is refused.
        let erring = try await load(
            FaultBundle.make("internal", config: ["mode": "fail", "failWith": "internal"], in: models, breaker: Self.patientBreaker, retry: retry),
            scheduler
        )
        #expect(try await submit(erring).answer().result.failure?.code == .pluginError)
        #expect(erring.statistics.retries == 0)
        #expect(erring.statistics.refusedRetries == 0)

        // A version that makes one attempt refuses no retry.
        let single = try await load(
            FaultBundle.make("single", config: ["mode": "fail", "failWith": "unavailable"], in: models, breaker: Self.patientBreaker, retry: ["maxAttempts": 1]),
            scheduler
        )
        #expect(try await submit(single).answer().timings.attempts == 1)
        #expect(single.statistics.refusedRetries == 0)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    // MARK: Batching

    @Test func batchSizesAreRecordedOncePerCallAndGivenToEachMember() async throws {
        let models = try ModelsDirectory()
        let scheduler = Scheduler()
        let directory = try FaultBundle.make(
            "batches", config: ["mode": "batch", "callCostUs": 20_000], in: models,
            limits: ["maxBatch": 8, "batchDelayMs": 50, "maxConcurrency": 1, "maxQueue": 64, "timeoutMs": 10_000]
        )
        let serving = try await load(directory, scheduler)
        let counters = try FaultCounters(bundle: directory)
        let callers = 24
        let pending = try (0..<callers).map { try submit(serving, Float($0)) }
        var bySize: [Int: Int] = [:]
        for (index, job) in pending.enumerated() {
            let answer = try await job.answer()
            #expect((try? answer.result.get())?.first.map(FaultBundle.values(of:)) == [2 * Float(index)])
            #expect(answer.timings.attempts == 1)
            #expect((1...8).contains(answer.timings.batchSize))
            #expect(answer.timings.inference >= .milliseconds(20))
            bySize[answer.timings.batchSize, default: 0] += 1
        }
        let statistics = serving.statistics
        #expect(statistics.batchSizes.count == UInt64(counters.batchCalls))
        #expect(statistics.batchSizes.sum == Double(callers))
        #expect(statistics.batchSizes.count < UInt64(callers), "no requests were joined")
        // A call of n answers n members, each told n.
        #expect(bySize.allSatisfy { size, members in members % size == 0 }, "\(bySize)")
        #expect(bySize.reduce(0) { $0 + $1.value / $1.key } == Int(statistics.batchSizes.count))
        #expect(statistics.queued == 0)
        #expect(statistics.running == 0)
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
    }

    // MARK: The breaker

    @Test func breakerTransitionsAreCountedByThePhaseEnteredAsTheyAreReported() async throws {
        let models = try ModelsDirectory()
        let breakers = BreakerRegistry()
        let reported = LockedBox<[BreakerTransition]>([])
        let events = Task { for await event in breakers.events { reported.withLock { $0.append(event.transition) } } }
        let scheduler = Scheduler(breakers: breakers)
        let serving = try await load(
            FaultBundle.make(
                "trips", config: ["mode": "fail", "failWith": "internal"], in: models,
                breaker: ["consecutiveFailures": 2, "openDurationMs": 300, "halfOpenProbes": 1]
            ),
            scheduler
        )
        #expect(serving.statistics.breakerTransitions == Dictionary(uniqueKeysWithValues: BreakerPhase.allCases.map { ($0, 0) }))
        for _ in 0..<2 {
            #expect(try await submit(serving).answer().result.failure?.code == .pluginError)
        }
        #expect(serving.breakerSnapshot.phase == .open)
        try await Task.sleep(for: .milliseconds(400))
        // The probe fails: half-open, then open again.
        #expect(try await submit(serving).answer().result.failure?.code == .pluginError)
        _ = serving.overrideBreaker(.forcedOpen)
        _ = serving.overrideBreaker(.forcedOpen)  // No change, no transition.
        _ = serving.overrideBreaker(.disabled)
        _ = serving.overrideBreaker(.closed)
        let counted = serving.statistics.breakerTransitions
        #expect(counted == [.closed: 1, .open: 2, .halfOpen: 1, .forcedOpen: 1, .disabled: 1])
        _ = await scheduler.shutDownAll(gracePeriod: .seconds(2))
        await breakers.finish()
        await events.value
        let byPhase = Dictionary(grouping: reported.value, by: \.to).mapValues { UInt64($0.count) }
        #expect(byPhase == counted.filter { $0.value > 0 })
    }
}

extension Result {
    /// The error, if any.
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
