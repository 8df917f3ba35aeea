import ModelHostCore
import ModelHostTestKit
import Testing

@testable import Scheduler

/// The per-version execution rules — bulkhead, queue, deadlines answered exactly once,
/// cancellation, drain, retirement — decided without threads or a real clock.
struct ServingVersionStateMachineTests {
    typealias Machine = ServingVersion.StateMachine<ManualClock.Instant, String>

    private static let start = ManualClock.Instant(offset: .zero)

    private func at(_ milliseconds: Int) -> ManualClock.Instant {
        Self.start.advanced(by: .milliseconds(milliseconds))
    }

    /// A ready machine with `threads` threads, of which the first `parked` have parked.
    private func readyMachine(threads: Int = 1, queue: Int = 2, parked: Int? = nil) -> Machine {
        var machine = Machine()
        let outcome1 = machine.becomeReady(limits: .init(maxConcurrency: threads, maxQueue: queue, idleCheckInterval: .milliseconds(1000)))
        #expect(outcome1)
        for worker in 0..<(parked ?? threads) {
            guard case .park = machine.nextAction(worker: worker, now: Self.start).action else {
                Issue.record("worker \(worker) did not park")
                continue
            }
        }
        return machine
    }

    private func ticket(_ action: Machine.SubmitAction) -> Machine.Ticket? {
        if case .enqueued(let ticket, _, _) = action { return ticket }
        return nil
    }

    private func running(_ action: Machine.WorkerAction) -> String? {
        if case .run(_, let job, _) = action { return job }
        return nil
    }

    // MARK: Loading

    @Test func refusesWorkWhileLoadingAndAfterAnAbandonedLoad() {
        var machine = Machine()
        #expect(machine.lifecycle == .loading)
        guard case .refused(.notReady(.loading)) = machine.submit("a", deadline: at(100), now: at(0)) else {
            Issue.record("a loading version took work")
            return
        }
        let outcome2 = machine.abandonLoading()
        #expect(outcome2)
        #expect(machine.lifecycle == .retired)
        // The loading thread finishing later is told it lost.
        let outcome3 = machine.becomeReady(limits: .init(maxConcurrency: 1, maxQueue: 1, idleCheckInterval: .seconds(1)))
        #expect(!outcome3)
        let outcome4 = machine.abandonLoading()
        #expect(!outcome4)
    }

    @Test func becomingReadyTwiceOrAfterReadyIsRefused() {
        var machine = readyMachine()
        let outcome5 = machine.becomeReady(limits: .init(maxConcurrency: 4, maxQueue: 1, idleCheckInterval: .seconds(1)))
        #expect(!outcome5)
        let outcome6 = machine.abandonLoading()
        #expect(!outcome6)
        #expect(machine.lifecycle == .ready)
    }

    // MARK: The bulkhead

    @Test func aParkedThreadIsWokenForTheFirstJob() {
        var machine = readyMachine(threads: 2)
        guard case .enqueued(_, let wake, let isEarlier) = machine.submit("a", deadline: at(100), now: at(0)) else {
            Issue.record("refused")
            return
        }
        // The most recently parked thread is woken; the deadline check must learn of the job.
        #expect(wake == 1)
        #expect(isEarlier)
        #expect(running(machine.nextAction(worker: 1, now: at(1)).action) == "a")
        // A thread woken for a job someone else took parks again.
        guard case .enqueued(_, let second, _) = machine.submit("b", deadline: at(100), now: at(2)) else {
            Issue.record("refused")
            return
        }
        #expect(second == 0)
    }

    @Test func aThreadThatLeavesItsParkUnwokenIsNeverWokenFromACall() {
        var machine = readyMachine(threads: 2)
        _ = machine.submit("a", deadline: at(100), now: at(0))  // wakes thread 1
        // Thread 0 returns from its park without being woken (its semaphore kept a signal from a
        // timed-out wait for a batch) and takes the job first.
        #expect(running(machine.nextAction(worker: 0, now: at(1)).action) == "a")
        guard case .park = machine.nextAction(worker: 1, now: at(1)).action else {
            Issue.record("thread 1 did not park")
            return
        }
        guard case .enqueued(_, let first, _) = machine.submit("b", deadline: at(100), now: at(2)),
              case .enqueued(_, let second, _) = machine.submit("c", deadline: at(100), now: at(2))
        else {
            Issue.record("refused")
            return
        }
        // Thread 1 is woken; thread 0, which runs "a", is not parked and is never woken.
        #expect(first == 1)
        #expect(second == nil)
        guard case .deliver(let job, _, _) = machine.finish(worker: 0, now: at(3)) else {
            Issue.record("thread 0's call was not delivered")
            return
        }
        #expect(job == "a")
    }

    @Test func takesThreadsPlusQueueThenRefusesAsOverloaded() {
        var machine = readyMachine(threads: 2, queue: 3)
        var accepted = 0
        for index in 0..<5 {
            if ticket(machine.submit("job\(index)", deadline: at(1000), now: at(0))) != nil { accepted += 1 }
        }
        #expect(accepted == 5)
        guard case .refused(.overloaded) = machine.submit("one too many", deadline: at(1000), now: at(0)) else {
            Issue.record("the sixth job was taken with 2 threads and a queue of 3")
            return
        }
        // Both threads take a job: three wait, still no room.
        #expect(running(machine.nextAction(worker: 0, now: at(1)).action) == "job0")
        #expect(running(machine.nextAction(worker: 1, now: at(1)).action) == "job1")
        #expect(machine.queuedCount == 3)
        #expect(machine.runningCount == 2)
        guard case .refused(.overloaded) = machine.submit("still too many", deadline: at(1000), now: at(2)) else {
            Issue.record("a job was taken beyond the queue")
            return
        }
        // One call returns: its thread takes the next job, and one place frees up.
        guard case .deliver("job0", _, _) = machine.finish(worker: 0, now: at(3)) else {
            Issue.record("the result was not delivered")
            return
        }
        #expect(running(machine.nextAction(worker: 0, now: at(3)).action) == "job2")
        #expect(ticket(machine.submit("job5", deadline: at(1000), now: at(4))) != nil)
    }

    @Test func aQueueOfZeroTakesOnlyWhatTheThreadsCanRun() {
        var machine = readyMachine(threads: 1, queue: 0)
        #expect(ticket(machine.submit("a", deadline: at(100), now: at(0))) != nil)
        guard case .refused(.overloaded) = machine.submit("b", deadline: at(100), now: at(0)) else {
            Issue.record("a second job was taken with one thread and no queue")
            return
        }
    }

    @Test func jobsRunInSubmissionOrder() {
        var machine = readyMachine(threads: 1, queue: 10)
        for name in ["a", "b", "c"] { _ = machine.submit(name, deadline: at(1000), now: at(0)) }
        var order: [String] = []
        while let job = running(machine.nextAction(worker: 0, now: at(1)).action) {
            order.append(job)
            _ = machine.finish(worker: 0, now: at(1))
        }
        #expect(order == ["a", "b", "c"])
    }

    // MARK: Deadlines

    @Test func aQueuedJobIsAnsweredAtItsDeadlineExactlyOnce() {
        var machine = readyMachine(threads: 1, queue: 4)
        _ = machine.submit("running", deadline: at(1000), now: at(0))
        _ = machine.nextAction(worker: 0, now: at(0))
        _ = machine.submit("waiting", deadline: at(100), now: at(0))
        #expect(machine.nextCheck == at(100))

        let early = machine.expire(now: at(99))
        #expect(early.timedOut.isEmpty)
        let due = machine.expire(now: at(100))
        #expect(due.timedOut == ["waiting"])
        #expect(due.overdueWorkers.isEmpty)
        #expect(machine.queuedCount == 0)
        // Nothing is answered twice: not by a later check, not by the thread.
        #expect(machine.expire(now: at(200)).timedOut.isEmpty)
        _ = machine.finish(worker: 0, now: at(300))
        let next = machine.nextAction(worker: 0, now: at(300))
        #expect(next.expired.isEmpty)
        guard case .park = next.action else {
            Issue.record("the expired job was run")
            return
        }
    }

    @Test func aThreadSkipsJobsThatExpiredBeforeTheCheckRan() {
        var machine = readyMachine(threads: 1, queue: 4)
        _ = machine.submit("first", deadline: at(1000), now: at(0))
        _ = machine.nextAction(worker: 0, now: at(0))
        _ = machine.submit("late", deadline: at(50), now: at(0))
        _ = machine.submit("fine", deadline: at(5000), now: at(0))
        _ = machine.finish(worker: 0, now: at(60))
        let next = machine.nextAction(worker: 0, now: at(60))
        #expect(next.expired == ["late"])
        #expect(running(next.action) == "fine")
    }

    @Test func aRunningCallPastItsDeadlineIsAnsweredAndKeepsItsSlot() {
        var machine = readyMachine(threads: 1, queue: 1)
        _ = machine.submit("slow", deadline: at(1000), now: at(0))
        _ = machine.nextAction(worker: 0, now: at(0))
        let expiry = machine.expire(now: at(1000))
        #expect(expiry.timedOutRunning == ["slow"])
        #expect(expiry.overdueWorkers == [0])
        // The slot is still held: the bulkhead counts the hung call.
        #expect(machine.runningCount == 1)
        #expect(machine.overdueCount == 1)
        #expect(!machine.isServing)
        _ = machine.submit("queued", deadline: at(3000), now: at(1001))
        guard case .refused(.overloaded) = machine.submit("no room", deadline: at(3000), now: at(1001)) else {
            Issue.record("a job was taken while the only slot is held by an overdue call")
            return
        }
        // When the plugin returns, its result is dropped and the overrun reported.
        guard case .discard(let overrun) = machine.finish(worker: 0, now: at(1500)) else {
            Issue.record("a result answered at the deadline was delivered again")
            return
        }
        #expect(overrun == .milliseconds(500))
        #expect(machine.isServing)
        #expect(running(machine.nextAction(worker: 0, now: at(1500)).action) == "queued")
    }

    @Test func theNextCheckIsTheEarliestPendingDeadlineOrTheIdleInterval() {
        var machine = readyMachine(threads: 1, queue: 4)
        guard case .enqueued(_, _, true) = machine.submit("a", deadline: at(500), now: at(0)) else {
            Issue.record("the first deadline did not schedule a check")
            return
        }
        // A later deadline needs no wake-up; an earlier one does.
        guard case .enqueued(_, _, false) = machine.submit("b", deadline: at(800), now: at(0)) else {
            Issue.record("a later deadline asked for an earlier check")
            return
        }
        guard case .enqueued(_, _, true) = machine.submit("c", deadline: at(200), now: at(0)) else {
            Issue.record("an earlier deadline did not ask for an earlier check")
            return
        }
        #expect(machine.expire(now: at(200)).nextCheck == at(500))
        #expect(machine.expire(now: at(900)).nextCheck == at(1900))  // Idle: the timeout from now.
        // With the idle interval as the check, a job with the usual timeout needs no wake-up.
        guard case .enqueued(_, _, false) = machine.submit("d", deadline: at(1950), now: at(950)) else {
            Issue.record("a job with the default timeout woke the deadline check")
            return
        }
    }

    @Test func aJobWhoseDeadlineHasPassedIsRefused() {
        var machine = readyMachine()
        guard case .refused(.deadlinePassed) = machine.submit("a", deadline: at(10), now: at(10)) else {
            Issue.record("a job past its deadline was taken")
            return
        }
    }

    // MARK: Cancellation

    @Test func cancellingAQueuedJobRemovesIt() {
        var machine = readyMachine(threads: 1, queue: 4)
        _ = machine.submit("running", deadline: at(1000), now: at(0))
        _ = machine.nextAction(worker: 0, now: at(0))
        let gone = ticket(machine.submit("gone", deadline: at(1000), now: at(0)))!
        _ = machine.submit("stays", deadline: at(1000), now: at(0))
        guard case .removedFromQueue("gone") = machine.cancel(gone) else {
            Issue.record("the queued job was not removed")
            return
        }
        guard case .none = machine.cancel(gone) else {
            Issue.record("a job was cancelled twice")
            return
        }
        _ = machine.finish(worker: 0, now: at(1))
        #expect(running(machine.nextAction(worker: 0, now: at(1)).action) == "stays")
    }

    @Test func cancellingARunningJobAnswersItAndKeepsTheSlot() {
        var machine = readyMachine(threads: 1, queue: 1)
        let running = ticket(machine.submit("running", deadline: at(1000), now: at(0)))!
        _ = machine.nextAction(worker: 0, now: at(0))
        guard case .cancelledWhileRunning("running", worker: 0) = machine.cancel(running) else {
            Issue.record("the running job was not cancelled")
            return
        }
        #expect(machine.runningCount == 1)
        // Neither its deadline nor its return answers it again.
        #expect(machine.expire(now: at(2000)).timedOut.isEmpty)
        guard case .discard(nil) = machine.finish(worker: 0, now: at(2000)) else {
            Issue.record("a cancelled call's result was delivered")
            return
        }
    }

    // MARK: Drain and retirement

    @Test func drainingRefusesNewWorkAndFinishesWhatItHas() {
        var machine = readyMachine(threads: 1, queue: 2)
        _ = machine.submit("a", deadline: at(1000), now: at(0))
        _ = machine.submit("b", deadline: at(1000), now: at(0))
        _ = machine.nextAction(worker: 0, now: at(0))
        let outcome7 = machine.beginDraining()
        #expect(!outcome7)
        #expect(machine.lifecycle == .draining)
        guard case .refused(.notReady(.draining)) = machine.submit("c", deadline: at(1000), now: at(1)) else {
            Issue.record("a draining version took work")
            return
        }
        _ = machine.finish(worker: 0, now: at(2))
        #expect(!machine.isDrained)
        #expect(running(machine.nextAction(worker: 0, now: at(2)).action) == "b")
        _ = machine.finish(worker: 0, now: at(3))
        #expect(machine.isDrained)
    }

    @Test func drainingAnIdleVersionIsDrainedAtOnce() {
        var machine = readyMachine()
        let outcome8 = machine.beginDraining()
        #expect(outcome8)
    }

    @Test func retiringDestroysOnceOnOneThreadThenEveryThreadEnds() {
        var machine = readyMachine(threads: 3)
        let outcome9 = machine.beginDraining()
        #expect(outcome9)
        let retirement = machine.retire()
        #expect(Set(retirement.wake) == [0, 1, 2])
        #expect(retirement.abandoned.isEmpty)
        #expect(retirement.stillRunningWorkers.isEmpty)
        var destroys = 0
        var exits = 0
        for worker in retirement.wake {
            switch machine.nextAction(worker: worker, now: at(0)).action {
            case .destroy: destroys += 1
            case .exit: exits += 1
            default: Issue.record("worker \(worker) was given work after retirement")
            }
        }
        #expect(destroys == 1)
        #expect(exits == 2)
        #expect(!machine.isFinished)
        let destroyer = retirement.wake.first { _ in true }!
        machine.destroyed(worker: destroyer)
        for worker in 0..<3 {
            if case .destroy = machine.nextAction(worker: worker, now: at(1)).action {
                Issue.record("the instance was destroyed twice")
            }
        }
        #expect(machine.isFinished)
    }

    @Test func retiringWithAHungCallDefersDestroyUntilItReturns() {
        var machine = readyMachine(threads: 2, queue: 2)
        _ = machine.submit("hung", deadline: at(10_000), now: at(0))
        _ = machine.nextAction(worker: 1, now: at(0))
        _ = machine.submit("waiting", deadline: at(10_000), now: at(0))
        _ = machine.beginDraining()
        let retirement = machine.retire()
        // Both callers are answered; the hung call keeps its thread.
        #expect(Set(retirement.abandoned) == ["hung", "waiting"])
        #expect(retirement.stillRunningWorkers == [1])
        // Worker 0 was woken for the waiting job and has not asked for it yet: it ends.
        #expect(retirement.wake.isEmpty)
        guard case .exit = machine.nextAction(worker: 0, now: at(1)).action else {
            Issue.record("the instance was destroyed while a call ran")
            return
        }
        guard case .discard = machine.finish(worker: 1, now: at(5000)) else {
            Issue.record("an answered call's result was delivered")
            return
        }
        guard case .destroy = machine.nextAction(worker: 1, now: at(5000)).action else {
            Issue.record("the last call's thread did not destroy the instance")
            return
        }
        machine.destroyed(worker: 1)
        _ = machine.nextAction(worker: 1, now: at(5000))
        #expect(machine.isFinished)
    }

    // MARK: Retries

    /// Runs `job` on worker 0 of `machine` and finishes it, returning its ticket and deadline.
    private func runAndFinish(_ machine: inout Machine, _ job: String, deadline: Int, at time: Int) -> (Machine.Ticket, ManualClock.Instant)? {
        _ = machine.submit(job, deadline: at(deadline), now: at(time))
        _ = machine.nextAction(worker: 0, now: at(time))
        guard case .deliver(_, let ticket, let deadline) = machine.finish(worker: 0, now: at(time + 1)) else {
            Issue.record("\(job) was not delivered")
            return nil
        }
        return (ticket, deadline)
    }

    @Test func aRetryWaitsForItsBackoffThenGoesToTheFrontOfTheQueue() {
        var machine = readyMachine(threads: 1, queue: 4)
        guard let (ticket, deadline) = runAndFinish(&machine, "flaky", deadline: 1000, at: 0) else { return }
        let isEarlier = machine.scheduleRetry("flaky", ticket: ticket, deadline: deadline, at: at(50), now: at(1))
        #expect(isEarlier)
        #expect(machine.nextCheck == at(50))
        #expect(machine.queuedCount == 1)
        _ = machine.submit("later", deadline: at(1000), now: at(2))
        // Before its backoff ends, the thread takes the other job and the retry stays put.
        #expect(running(machine.nextAction(worker: 0, now: at(3)).action) == "later")
        _ = machine.finish(worker: 0, now: at(4))
        guard case .park = machine.nextAction(worker: 0, now: at(5)).action else {
            Issue.record("a retry ran before its backoff ended")
            return
        }
        #expect(machine.expire(now: at(49)).wake.isEmpty)
        let expiry = machine.expire(now: at(50))
        #expect(expiry.wake == [0])
        #expect(expiry.timedOut.isEmpty)
        #expect(running(machine.nextAction(worker: 0, now: at(50)).action) == "flaky")
    }

    @Test func aRetryIsCancelledTimedOutOrRefusedWhileItWaits() {
        var machine = readyMachine(threads: 1, queue: 4)
        guard let (first, firstDeadline) = runAndFinish(&machine, "cancelled", deadline: 1000, at: 0) else { return }
        _ = machine.scheduleRetry("cancelled", ticket: first, deadline: firstDeadline, at: at(100), now: at(1))
        guard case .removedFromQueue("cancelled") = machine.cancel(first) else {
            Issue.record("a waiting retry was not cancelled")
            return
        }
        guard let (second, secondDeadline) = runAndFinish(&machine, "expires", deadline: 30, at: 2) else { return }
        _ = machine.scheduleRetry("expires", ticket: second, deadline: secondDeadline, at: at(40), now: at(3))
        guard let (third, thirdDeadline) = runAndFinish(&machine, "refused", deadline: 1000, at: 4) else { return }
        _ = machine.scheduleRetry("refused", ticket: third, deadline: thirdDeadline, at: at(40), now: at(5))
        #expect(machine.queuedCount == 2)
        let expiry = machine.expire(now: at(40)) { $0 != "refused" }
        #expect(expiry.timedOut == ["expires"])
        #expect(expiry.retriesRefused == ["refused"])
        #expect(machine.queuedCount == 0)
    }

    @Test func retriesCountAgainstTheQueueBound() {
        var machine = readyMachine(threads: 1, queue: 1)
        guard let (ticket, deadline) = runAndFinish(&machine, "retry", deadline: 1000, at: 0) else { return }
        _ = machine.scheduleRetry("retry", ticket: ticket, deadline: deadline, at: at(100), now: at(1))
        _ = machine.submit("a", deadline: at(1000), now: at(2))
        guard case .refused(.overloaded) = machine.submit("b", deadline: at(1000), now: at(2)) else {
            Issue.record("a waiting retry did not count against the bound")
            return
        }
    }

    @Test func retiringAnswersWaitingRetries() {
        var machine = readyMachine(threads: 1, queue: 2)
        guard let (ticket, deadline) = runAndFinish(&machine, "retry", deadline: 1000, at: 0) else { return }
        _ = machine.scheduleRetry("retry", ticket: ticket, deadline: deadline, at: at(100), now: at(1))
        let isDrained = machine.beginDraining()
        #expect(!isDrained)
        let retirement = machine.retire()
        #expect(retirement.abandoned == ["retry"])
    }

    // MARK: Batching

    private static let batching = Machine.Batching(maxRows: 4, delay: .milliseconds(10))

    /// A ready batching machine with `threads` parked threads.
    private func batchingMachine(threads: Int = 1, queue: Int = 8) -> Machine {
        var machine = Machine()
        _ = machine.becomeReady(limits: .init(maxConcurrency: threads, maxQueue: queue, idleCheckInterval: .seconds(1), batching: Self.batching))
        for worker in 0..<threads { _ = machine.nextAction(worker: worker, now: at(0)) }
        return machine
    }

    /// The batch slot of a request whose one FP32 input has `rows` rows of `width` values.
    private func slot(rows: Int, width: Int = 2) -> Machine.BatchSlot {
        let tensor = try! Tensor(name: "x", datatype: .fp32, shape: [rows, width], data: Array(repeating: 0, count: rows * width * 4))
        let (key, rows) = BatchKey.of([tensor])!
        return Machine.BatchSlot(key: key, rows: rows)
    }

    private func batch(_ action: Machine.WorkerAction) -> [String]? {
        switch action {
        case .runBatch(let members, _): members.map(\.job)
        case .run(_, let job, _): [job]
        default: nil
        }
    }

    @Test func aBatchFormsForItsDelayThenRunsAsOneCall() {
        var machine = batchingMachine()
        guard case .enqueued(_, wake: 0, _) = machine.submit("a", deadline: at(1000), now: at(0), batch: slot(rows: 1)) else {
            Issue.record("the parked thread was not woken")
            return
        }
        guard case .waitForBatch(until: at(10)) = machine.nextAction(worker: 0, now: at(1)).action else {
            Issue.record("the thread did not wait for the batch")
            return
        }
        // A join that leaves the batch short of full does not wake the waiting thread.
        guard case .enqueued(_, wake: nil, _) = machine.submit("b", deadline: at(1000), now: at(2), batch: slot(rows: 2)) else {
            Issue.record("the waiting thread was woken before the batch filled")
            return
        }
        #expect(batch(machine.nextAction(worker: 0, now: at(10)).action) == ["a", "b"])
        guard case .deliverBatch(let jobs) = machine.finish(worker: 0, now: at(11)) else {
            Issue.record("the batch was not delivered")
            return
        }
        #expect(jobs == ["a", "b"])
    }

    @Test func aFullBatchWakesItsThreadAndRunsAtOnceWithinMaxRows() {
        var machine = batchingMachine()
        _ = machine.submit("a", deadline: at(1000), now: at(0), batch: slot(rows: 2))
        _ = machine.nextAction(worker: 0, now: at(0))
        guard case .enqueued(_, wake: 0, _) = machine.submit("b", deadline: at(1000), now: at(1), batch: slot(rows: 2)) else {
            Issue.record("a full batch did not wake its thread")
            return
        }
        _ = machine.submit("c", deadline: at(1000), now: at(1), batch: slot(rows: 1))
        // Four rows are the most one call takes; the fifth waits for the next.
        #expect(batch(machine.nextAction(worker: 0, now: at(1)).action) == ["a", "b"])
        #expect(machine.queuedCount == 1)
    }

    @Test func requestsOfDifferentShapesAreNotJoined() {
        var machine = batchingMachine()
        _ = machine.submit("wide", deadline: at(1000), now: at(0), batch: slot(rows: 1, width: 3))
        _ = machine.submit("narrow", deadline: at(1000), now: at(0), batch: slot(rows: 1, width: 2))
        _ = machine.submit("alone", deadline: at(1000), now: at(0))
        _ = machine.submit("wide2", deadline: at(1000), now: at(0), batch: slot(rows: 1, width: 3))
        #expect(batch(machine.nextAction(worker: 0, now: at(20)).action) == ["wide", "wide2"])
        _ = machine.finish(worker: 0, now: at(21))
        #expect(batch(machine.nextAction(worker: 0, now: at(21)).action) == ["narrow"])
        _ = machine.finish(worker: 0, now: at(22))
        #expect(batch(machine.nextAction(worker: 0, now: at(22)).action) == ["alone"])
    }

    @Test func anExpiredMemberIsDroppedBeforeTheCall() {
        var machine = batchingMachine()
        _ = machine.submit("a", deadline: at(1000), now: at(0), batch: slot(rows: 1))
        _ = machine.submit("late", deadline: at(5), now: at(0), batch: slot(rows: 1))
        _ = machine.submit("b", deadline: at(1000), now: at(0), batch: slot(rows: 1))
        let (action, expired) = machine.nextAction(worker: 0, now: at(10))
        #expect(batch(action) == ["a", "b"])
        #expect(expired == ["late"])
    }

    @Test func aMemberCancelledOrTimedOutWhileTheBatchRunsLeavesTheCallToTheOthers() {
        var machine = batchingMachine()
        _ = machine.submit("a", deadline: at(1000), now: at(0), batch: slot(rows: 1))
        guard case .enqueued(let quitter, _, _) = machine.submit("quits", deadline: at(1000), now: at(0), batch: slot(rows: 1)) else { return }
        _ = machine.submit("short", deadline: at(50), now: at(0), batch: slot(rows: 1))
        #expect(batch(machine.nextAction(worker: 0, now: at(10)).action) == ["a", "quits", "short"])
        // The call goes on for the others: no flag is raised.
        guard case .removedFromQueue("quits") = machine.cancel(quitter) else {
            Issue.record("a cancelled batch member was not answered apart")
            return
        }
        let expiry = machine.expire(now: at(50))
        #expect(expiry.timedOutRunning == ["short"])
        #expect(expiry.overdueWorkers.isEmpty)
        guard case .deliverBatch(let jobs) = machine.finish(worker: 0, now: at(60)) else {
            Issue.record("the batch was not delivered")
            return
        }
        #expect(jobs == ["a", nil, nil])
    }

    @Test func everyJobWhoseCallStartsIsMarkedWithTheCallsSizeAndKeptSo() {
        var machine = batchingMachine()
        let mark: (inout String, Int) -> Void = { job, size in job += "@\(size)" }
        _ = machine.submit("a", deadline: at(1000), now: at(0), batch: slot(rows: 1))
        guard case .enqueued(let quitter, _, _) = machine.submit("b", deadline: at(1000), now: at(0), batch: slot(rows: 1)) else { return }
        _ = machine.submit("short", deadline: at(50), now: at(0), batch: slot(rows: 1))
        _ = machine.submit("expired", deadline: at(55), now: at(0))
        _ = machine.submit("alone", deadline: at(1000), now: at(0))
        // Waiting for a batch marks nothing; the call that starts marks each of its members.
        #expect(batch(machine.nextAction(worker: 0, now: at(1), starting: mark).action) == nil)
        #expect(batch(machine.nextAction(worker: 0, now: at(10), starting: mark).action) == ["a@3", "b@3", "short@3"])
        // What is answered while the call runs, and what it delivers, are the marked jobs.
        guard case .removedFromQueue("b@3") = machine.cancel(quitter) else {
            Issue.record("the cancelled member was not the marked job")
            return
        }
        #expect(machine.expire(now: at(50)).timedOutRunning == ["short@3"])
        guard case .deliverBatch(let jobs) = machine.finish(worker: 0, now: at(60)) else {
            Issue.record("the batch was not delivered")
            return
        }
        #expect(jobs == ["a@3", nil, nil])
        // A job alone is a call of one; one found expired never starts.
        let (action, expired) = machine.nextAction(worker: 0, now: at(60), starting: mark)
        #expect(expired == ["expired"])
        #expect(batch(action) == ["alone@1"])
        guard case .deliver("alone@1", _, _) = machine.finish(worker: 0, now: at(61)) else {
            Issue.record("the single job was not the marked one")
            return
        }
    }

    @Test func aBatchWhoseEveryMemberPassedItsDeadlineIsOverdue() {
        var machine = batchingMachine()
        _ = machine.submit("a", deadline: at(30), now: at(0), batch: slot(rows: 1))
        _ = machine.submit("b", deadline: at(40), now: at(0), batch: slot(rows: 1))
        _ = machine.nextAction(worker: 0, now: at(10))
        #expect(machine.expire(now: at(30)).overdueWorkers.isEmpty)
        #expect(machine.expire(now: at(40)).overdueWorkers == [0])
        guard case .discard(overrun: .milliseconds(5)?) = machine.finish(worker: 0, now: at(45)) else {
            Issue.record("an abandoned batch's overrun was not reported")
            return
        }
    }
}
