import CircuitBreaker
import Dispatch
import Foundation
import ModelHostCore
import PluginLoader
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The version's threads: each takes a job or a batch, calls the plugin, records the outcome,
/// answers or schedules a retry, and parks when there is nothing to do.
extension ServingVersion {
    /// One thread's loop: take a job (or a batch), call the plugin, answer; park when there is
    /// nothing to do; destroy the instance or end when the version retires.
    func work(_ index: Int) {
        let (instance, parker, flag) = state.withLock { ($0.instance!, $0.parkers[index], $0.flags[index]) }
        // After a call, the thread polls briefly before parking: under load the next job comes
        // within microseconds, and taking it costs no wake-up.
        var mayPark = false
        // The result of the call just made, reported in the same critical section that takes
        // the next job: one lock per job.
        var finished: Outcome?
        var callStart = ContinuousClock.now
        // When the plugin was entered, if later than `callStart`: after decoding deferred inputs.
        var pluginStarted: ContinuousClock.Instant?
        while true {
            let now = ContinuousClock.now
            let step = state.withLock { locked -> Step in
                var step = Step()
                if let outcome = finished {
                    step.finish = locked.machine.finish(worker: index, now: now)
                    step.finish?.finishAttempts(pluginStarted: pluginStarted, at: now)
                    locked.record(step.finish, outcome: outcome, duration: callStart.duration(to: now), now: now)
                    step.retried = locked.retryIfWanted(&step.finish, outcome: outcome, now: now)
                }
                (step.action, step.expired) = locked.machine.nextAction(worker: index, now: now, mayPark: mayPark) { call, callSize in
                    call.startAttempt(callSize: callSize, at: now)
                }
                for call in step.expired { locked.record(.ignored, of: call, duration: .zero, now: now) }
                step.transitions = locked.takeTransitions()
                switch step.action {
                case .run:
                    locked.flags[index].lower()
                    locked.countCall(joining: 1)
                case .runBatch(let members, _):
                    locked.flags[index].lower()
                    locked.countCall(joining: members.count)
                case .exit where locked.machine.isFinished: step.finishedWaiter = locked.takeWaiter(.finished)
                default: break
                }
                step.drainedWaiter = locked.takeWaiterIfDrained()
                return step
            }
            report(step.transitions)
            if let outcome = finished.take(), let finish = step.finish {
                deliver(finish, outcome: outcome, at: now)
            }
            if step.retried { watchdog.wake() }
            for call in step.expired {
                call.answer(.failure(timeoutError(call.job)), at: now)
            }
            step.drainedWaiter?.resume(true)
            step.finishedWaiter?.resume(true)
            switch step.action {
            case .run(_, let call, let deadline):
                callStart = now
                let result: Result<[Tensor], ModelHostError>
                (result, pluginStarted) = self.call(instance, call.job, deadline: deadline, flag: flag)
                finished = .single(result)
                mayPark = false
            case .runBatch(let members, let deadline):
                callStart = now
                pluginStarted = nil
                finished = .batch(callBatch(instance, members.map(\.job.job), deadline: deadline, flag: flag))
                mayPark = false
            case .waitForBatch(let until):
                let wait = now.duration(to: until)
                _ = parker.wait(timeout: .now() + .nanoseconds(Int(wait.components.seconds * 1_000_000_000 + wait.components.attoseconds / 1_000_000_000)))
                mayPark = false
            case .poll:
                let seen = submissions.load(ordering: .relaxed)
                for _ in 0..<Self.pollRounds where submissions.load(ordering: .relaxed) == seen {
                    sched_yield()
                }
                mayPark = true
            case .park:
                parker.wait()
                mayPark = false
            case .destroy:
                instance.destroy()
                state.withLock { $0.machine.destroyed(worker: index) }
            case .exit:
                return
            }
        }
    }

    /// What a call returned: one result, or one for each member of a batch.
    enum Outcome {
        case single(Result<[Tensor], ModelHostError>)
        case batch([Result<[Tensor], ModelHostError>])
    }

    /// What one turn of a thread's loop decided under the lock.
    private struct Step {
        var finish: Machine.FinishAction?
        var retried = false
        var transitions: [BreakerTransition] = []
        var action = Machine.WorkerAction.park
        var expired: [Call] = []
        var drainedWaiter: Waiter?
        var finishedWaiter: Waiter?
    }

    /// Answers the jobs of a call that finished at `now`.
    private func deliver(_ finish: Machine.FinishAction, outcome: Outcome, at now: ContinuousClock.Instant) {
        switch (finish, outcome) {
        case (.deliver(let call, _, _), .single(let result)):
            call.answer(result, at: now)
        case (.deliverBatch(let calls), .batch(let results)):
            for (call, result) in zip(calls, results) {
                call?.answer(result, at: now)
            }
        case (.discard(let overrun?), _):
            events(SchedulerEvent(model: name, version: version, kind: .callOverranDeadline(overrun: overrun)))
        case (.discard(nil), _), (.deliver, .batch), (.deliverBatch, .single):
            break
        }
    }

    /// Prepares the job's inputs if they are deferred, then calls the plugin.
    ///
    /// - Returns: The result, and for deferred inputs the instant decoding ended (when the plugin
    ///   was entered, or the failure found).
    private func call(
        _ instance: PluginInstance, _ job: InferenceJob, deadline: ContinuousClock.Instant, flag: CancellationFlag
    ) -> (Result<[Tensor], ModelHostError>, pluginStarted: ContinuousClock.Instant?) {
        let inputs: [Tensor]
        let decoded: ContinuousClock.Instant?
        switch job.inputs {
        case .tensors(let tensors):
            inputs = tensors
            decoded = nil
        case .deferred(let prepare):
            let prepared = prepare()
            decoded = ContinuousClock.now
            switch prepared {
            case .success(let tensors): inputs = tensors
            case .failure(let error): return (.failure(error), decoded)
            }
        }
        return (instance.infer(inputs, context: PluginCallContext(deadline: deadline, cancellation: flag)), decoded)
    }

    /// Joins the jobs' inputs along their first dimension, calls the plugin once, and gives each
    /// job its own rows of every output. An error of the call is every job's.
    private func callBatch(_ instance: PluginInstance, _ jobs: [InferenceJob], deadline: ContinuousClock.Instant, flag: CancellationFlag) -> [Result<[Tensor], ModelHostError>] {
        let inputs = jobs.map { job -> [Tensor] in
            if case .tensors(let tensors) = job.inputs { return tensors }
            return []  // Never: only decoded jobs are batched.
        }
        let joined: (tensors: [Tensor], rows: [Int])
        do {
            joined = try TensorBatch.join(inputs)
        } catch {
            let failure = ModelHostError(.internal, "requests could not be joined into a batch: \(error)", modelVersion: version)
            return Array(repeating: .failure(failure), count: jobs.count)
        }
        switch instance.infer(joined.tensors, context: PluginCallContext(deadline: deadline, cancellation: flag)) {
        case .failure(let error):
            return Array(repeating: .failure(error), count: jobs.count)
        case .success(let outputs):
            do {
                return try TensorBatch.split(outputs, rows: joined.rows).map { .success($0) }
            } catch {
                let failure = ModelHostError(.pluginError, "the plugin's answer to a batch of \(joined.rows.count) requests does not split into them: \(error)", modelVersion: version)
                return Array(repeating: .failure(failure), count: jobs.count)
            }
        }
    }
}

extension ServingVersion.Locked {
    /// When a single call failed and the version's retry policy wants it tried again, schedules
    /// the retry in place of delivering the failure.
    ///
    /// - Returns: Whether a retry was scheduled before the deadline check's next look, so it
    ///   must be woken.
    mutating func retryIfWanted(_ finish: inout ServingVersion.Machine.FinishAction?, outcome: ServingVersion.Outcome, now: ContinuousClock.Instant) -> Bool {
        guard case .deliver(var call, let ticket, let deadline)? = finish, case .single(.failure(let error)) = outcome else { return false }
        guard retry != nil, RetryPolicy<SplitMix64>.isRetryable(error.code) else { return false }
        // From here on a failure not retried is a refused retry. An open breaker stops retries
        // before they spend any budget.
        guard breaker?.refusal(now: now) == nil,
            case .retry(let delay) = retry!.decide(after: error.code, attempts: call.attempts, timeLeft: now.duration(to: deadline))
        else {
            statistics.refusedRetries += 1
            return false
        }
        if breaker != nil {
            let (decision, transition) = breaker!.acquire(now: now)
            if let transition { keep(transition) }
            guard case .permitted(let permit) = decision else {
                statistics.refusedRetries += 1
                return false
            }
            call.permit = permit
        }
        call.lastFailure = error
        statistics.retries += 1
        finish = nil
        return machine.scheduleRetry(call, ticket: ticket, deadline: deadline, at: now.advanced(by: delay), now: now)
    }
}

extension ServingVersion.Machine.FinishAction {
    /// Ends the attempt of each job still waiting for the call that returned at `now`.
    fileprivate mutating func finishAttempts(pluginStarted: ContinuousClock.Instant?, at now: ContinuousClock.Instant) {
        switch self {
        case .deliver(var call, let ticket, let deadline):
            call.finishAttempt(pluginStarted: pluginStarted, at: now)
            self = .deliver(call, ticket, deadline: deadline)
        case .deliverBatch(var calls):
            self = .discard(overrun: nil)  // Hands the array over, so it is changed in place.
            for index in calls.indices { calls[index]?.finishAttempt(pluginStarted: pluginStarted, at: now) }
            self = .deliverBatch(calls)
        case .discard:
            break
        }
    }
}
