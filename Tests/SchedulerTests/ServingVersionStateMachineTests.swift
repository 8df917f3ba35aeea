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
        guard case .deliver("job0") = machine.finish(worker: 0, now: at(3)) else {
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
        #expect(expiry.timedOut == ["slow"])
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
}
