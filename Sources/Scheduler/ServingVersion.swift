import CircuitBreaker
import Dispatch
import Foundation
import ModelHostCore
import ModelManifest
import PluginLoader
import Synchronization

/// The execution owner of one loaded model version: its plugin instance, the threads that run
/// it, its bounded queue, its calls in flight and its lifecycle (loading, ready, draining,
/// retired).
///
/// The request path calls ``submit(_:)`` and ``cancel(_:)`` synchronously: each takes the
/// version's own lock for a few instructions and, at most, wakes one of its threads. No actor is
/// involved and nothing waits for the plugin. The ``Scheduler`` actor creates versions and shuts
/// them down.
///
/// All plugin code — `dlopen`, the entry symbol, `create`, warmup, `infer`, `destroy` — runs on
/// the version's own threads, as many as the manifest's `limits.maxConcurrency`. A call that
/// hangs holds one of them and nothing else: its callers get 504 at their deadlines, later
/// callers 503 ``ModelHostError/Code/overloaded`` once the queue is full, and every other
/// version is unaffected.
public final class ServingVersion: Sendable {
    /// Identifies a submitted job, to cancel it.
    public struct Ticket: Hashable, Sendable {
        fileprivate let value: Machine.Ticket
    }

    /// The outcome of ``submit(_:)``.
    public enum Submission: Sendable {
        /// Taken; the job's completion will be called exactly once.
        case accepted(Ticket)
        /// Not taken, and the completion will never be called: the version is not ready
        /// (``ModelHostError/Code/modelNotReady``) or full (``ModelHostError/Code/overloaded``).
        case refused(ModelHostError)
    }

    /// What became of the version when it shut down.
    public struct ShutdownReport: Sendable, Hashable {
        /// The model's name.
        public var model: String
        /// The version.
        public var version: String
        /// Whether the instance was destroyed and every thread ended.
        public var isDestroyed: Bool
        /// Calls still in the plugin when the grace period ended; their threads are abandoned.
        public var stillRunning: Int
    }

    typealias Machine = StateMachine<ContinuousClock.Instant, Call>
    typealias Breaker = BreakerStateMachine<ContinuousClock.Instant>

    /// A job and what its execution has learnt of it so far.
    struct Call: Sendable {
        var job: InferenceJob
        /// When it was submitted.
        var submitted: ContinuousClock.Instant
        /// When its first plugin call started; `nil` until then.
        var firstStarted: ContinuousClock.Instant?
        /// When its thread took it for the call now running; `nil` while no call runs for it.
        var attemptStarted: ContinuousClock.Instant?
        /// Time spent in its finished plugin calls.
        var inference: Duration = .zero
        /// Jobs in its latest plugin call.
        var callSize = 0
        /// Attempts made, the one running included.
        var attempts = 0
        /// The failure that made it retry: its answer if the retry is refused.
        var lastFailure: ModelHostError?
        /// The breaker's admission of the current attempt, handed back with its outcome.
        var permit: Breaker.Permit?
    }

    /// A waiter for one condition, resumed once: by the event, or by its timer.
    struct Waiter {
        var continuation: CheckedContinuation<Bool, Never>
        var timer: Task<Void, Never>?
    }

    /// What a waiter waits for.
    enum Event: Sendable {
        /// The load finished, well or badly.
        case loaded
        /// Draining left nothing to do.
        case drained
        /// Every thread ended.
        case finished
    }

    /// Everything the version's lock guards.
    struct Locked {
        var machine = Machine()
        var loadOutcome: Result<PluginLoader.LoadedBundle, BundleError>?
        var instance: PluginInstance?
        /// One semaphore per thread, which it parks on.
        var parkers: [DispatchSemaphore] = []
        /// One flag per thread, raised when its call is no longer wanted.
        var flags: [CancellationFlag] = []
        var waiters: [Event: Waiter] = [:]
        /// The manifest's retry policy; `nil` when it makes one attempt only.
        var retry: RetryPolicy<SplitMix64>?
        /// The version's circuit breaker, from its manifest; `nil` until it is ready.
        var breaker: Breaker?
        /// Breaker transitions made under the lock, to report once it is released.
        var transitions: [BreakerTransition] = []
        /// The outcomes recorded so far.
        var outcomes = OutcomeCounts()
        /// The counts ``statistics`` reports, bumped in the critical sections that decide them;
        /// its `queued` and `running` are read from the machine instead.
        var statistics = Statistics()
    }

    /// The model's name.
    public let name: String
    /// The version's text.
    public let version: String

    let state = Mutex(Locked())
    /// Counts submissions, so a thread that polls before parking sees new work without the lock.
    let submissions = Atomic<UInt64>(0)
    /// Whether the version joins requests into batches; set once, when it becomes ready.
    let isBatching = Atomic<Bool>(false)
    let watchdog: DeadlineWatchdog
    let events: @Sendable (SchedulerEvent) -> Void
    let breakerEvents: @Sendable (BreakerTransition) -> Void

    init(
        name: String, version: String, watchdog: DeadlineWatchdog, events: @escaping @Sendable (SchedulerEvent) -> Void,
        breakerEvents: @escaping @Sendable (BreakerTransition) -> Void = { _ in }
    ) {
        self.name = name
        self.version = version
        self.watchdog = watchdog
        self.events = events
        self.breakerEvents = breakerEvents
    }

    // MARK: Reading

    /// Where the version stands.
    public var lifecycle: Lifecycle { Lifecycle(state.withLock { $0.machine.lifecycle }) }

    /// Whether the version serves requests: ready, and not every one of its threads held by a
    /// call past its deadline.
    public var isReady: Bool { state.withLock { $0.machine.isServing } }

    /// Jobs waiting for a thread.
    public var queuedCount: Int { state.withLock { $0.machine.queuedCount } }

    /// Calls in the plugin, those past their deadline included.
    public var runningCount: Int { state.withLock { $0.machine.runningCount } }

    // MARK: The request path

    /// Queues `job` for one of the version's threads, or refuses it at once.
    ///
    /// Never blocks and never runs plugin code: at most it wakes a parked thread.
    public func submit(_ job: InferenceJob) -> Submission {
        var slot: Machine.BatchSlot?
        if isBatching.load(ordering: .relaxed), case .tensors(let tensors) = job.inputs, let (key, rows) = BatchKey.of(tensors) {
            slot = Machine.BatchSlot(key: key, rows: rows)
        }
        let now = ContinuousClock.now
        let deadline = now.advanced(by: job.timeout)
        let (admission, parker, transitions) = state.withLock { locked -> (Admission, DispatchSemaphore?, [BreakerTransition]) in
            var call = Call(job: job, submitted: now)
            if locked.breaker != nil {
                let (decision, transition) = locked.breaker!.acquire(now: now)
                if let transition { locked.keep(transition) }
                switch decision {
                case .refused(let retryAfter): return (.breakerOpen(retryAfter: retryAfter), nil, locked.takeTransitions())
                case .permitted(let permit): call.permit = permit
                }
            }
            let action = locked.machine.submit(call, deadline: deadline, now: now, batch: slot)
            guard case .enqueued(_, let wake, _) = action else {
                locked.record(.ignored, of: call, duration: .zero, now: now)
                return (.machine(action), nil, locked.takeTransitions())
            }
            locked.retry?.requestArrived()
            return (.machine(action), wake.map { locked.parkers[$0] }, locked.takeTransitions())
        }
        report(transitions)
        let action: Machine.SubmitAction
        switch admission {
        case .breakerOpen(let retryAfter): return .refused(breakerError(retryAfter: retryAfter))
        case .machine(let decided): action = decided
        }
        switch action {
        case .enqueued(let ticket, _, let isEarlierDeadline):
            submissions.add(1, ordering: .relaxed)
            parker?.signal()
            if isEarlierDeadline { watchdog.wake() }
            return .accepted(Ticket(value: ticket))
        case .refused(let refusal):
            return .refused(error(for: refusal, queued: queuedCount))
        }
    }

    /// What ``submit(_:)`` decided under the lock.
    private enum Admission {
        case breakerOpen(retryAfter: Duration?)
        case machine(Machine.SubmitAction)
    }

    /// Gives up on a job whose caller went away: it leaves the queue, or, if running, its
    /// thread's cancellation flag is raised (the slot stays held until the plugin returns). The
    /// job's completion is called with ``ModelHostError/Code/cancelled`` unless it was already
    /// answered.
    public func cancel(_ ticket: Ticket) {
        let now = ContinuousClock.now
        let (action, drained, transitions) = state.withLock { locked -> (Machine.CancelAction, Waiter?, [BreakerTransition]) in
            let action = locked.machine.cancel(ticket.value)
            switch action {
            case .none: break
            case .removedFromQueue(let call): locked.record(.ignored, of: call, duration: .zero, now: now)
            case .cancelledWhileRunning(let call, let worker):
                locked.flags[worker].raise()
                locked.record(.ignored, of: call, duration: .zero, now: now)
            }
            return (action, locked.takeWaiterIfDrained(), locked.takeTransitions())
        }
        report(transitions)
        drained?.resume(true)
        switch action {
        case .none:
            break
        case .removedFromQueue(let call), .cancelledWhileRunning(let call, _):
            call.answer(.failure(ModelHostError(.cancelled, "the caller stopped waiting", modelVersion: version)), at: now)
        }
    }

    /// Runs `inputs` and waits for the answer: ``submit(_:)`` for callers in async code, such as
    /// tests and tools. Cancelling the task cancels the job.
    ///
    /// - Throws: ``ModelHostError``: the refusal, the plugin's error, a timeout at the deadline,
    ///   or ``ModelHostError/Code/cancelled``.
    public func infer(_ inputs: [Tensor], timeout: Duration) async throws(ModelHostError) -> [Tensor] {
        let ticket = Mutex<Ticket?>(nil)
        let isCancelled = Mutex(false)
        let result: Result<[Tensor], ModelHostError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let job = InferenceJob(inputs: .tensors(inputs), timeout: timeout) { continuation.resume(returning: $0) }
                switch submit(job) {
                case .refused(let error):
                    continuation.resume(returning: .failure(error))
                case .accepted(let accepted):
                    let cancelNow = isCancelled.withLock { cancelled in
                        ticket.withLock { $0 = accepted }
                        return cancelled
                    }
                    if cancelNow { cancel(accepted) }
                }
            }
        } onCancel: {
            let accepted = isCancelled.withLock { cancelled in
                cancelled = true
                return ticket.withLock { $0 }
            }
            if let accepted { cancel(accepted) }
        }
        return try result.get()
    }

    // MARK: Deadlines

    /// Answers every job past its deadline; called by the deadline thread.
    ///
    /// - Returns: When to look at this version again.
    func expireOverdue(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        let (expiry, parkers, drained, transitions) = state.withLock { locked in
            let mayRetry = locked.breaker?.refusal(now: now) == nil
            let expiry = locked.machine.expire(now: now) { _ in mayRetry }
            for worker in expiry.overdueWorkers { locked.flags[worker].raise() }
            // A call past its deadline failed, as far as the breaker knows: a probe that never
            // returns ends here. One that had not started yet says nothing of the plugin.
            for call in expiry.timedOutRunning { locked.record(.failure, of: call, duration: call.job.timeout, now: now) }
            for call in expiry.timedOut + expiry.retriesRefused { locked.record(.ignored, of: call, duration: .zero, now: now) }
            locked.statistics.refusedRetries += UInt64(expiry.retriesRefused.count)
            return (expiry, expiry.wake.map { locked.parkers[$0] }, locked.takeWaiterIfDrained(), locked.takeTransitions())
        }
        report(transitions)
        parkers.forEach { $0.signal() }
        for call in expiry.timedOut + expiry.timedOutRunning {
            call.answer(.failure(timeoutError(call.job)), at: now)
        }
        for call in expiry.retriesRefused {
            call.answer(.failure(call.lastFailure ?? timeoutError(call.job)), at: now)
        }
        drained?.resume(true)
        return expiry.nextCheck
    }

    // MARK: Loading

    /// Loads the bundle at `directory` on the version's first thread, waiting at most `timeout`.
    ///
    /// On success the version is ready, registered with the deadline thread, and running all of
    /// its threads. When the timeout passes first, the version is given up: its thread is
    /// abandoned to whatever plugin code holds it, and if that code ever returns, what it made
    /// is destroyed there.
    func load(
        bundleAt directory: String, timeout: Duration, loader: PluginLoader, retries: LoadRetries = .init()
    ) async -> Result<PluginLoader.LoadedBundle, BundleError> {
        let isLoaded = await wait(
            for: .loaded, until: .now.advanced(by: timeout),
            timesOut: { $0.machine.abandonLoading() },
            then: {
                Self.startThread(named: self.threadName(0)) {
                    self.runLoad(bundleAt: directory, loader: loader, retries: retries)
                }
            }
        )
        if isLoaded, let result = state.withLock({ $0.loadOutcome.take() }) {
            return result
        }
        // The timer won and gave the load up; the thread, if it ever finishes, sees that.
        events(SchedulerEvent(model: name, version: version, kind: .loadTimedOut(timeout: timeout)))
        return .failure(BundleError(
            .loadTimedOut, bundle: directory,
            "loading did not finish within \(Self.describe(timeout)) (dlopen, create or warmup hangs); the load thread is abandoned. A manifest may ask for longer with limits.loadTimeoutMs"
        ))
    }

    /// How often a load whose plugin is not ready yet is tried.
    struct LoadRetries: Sendable {
        /// Attempts in all.
        var attempts = 1
        /// The wait before the first retry; doubled before each further one.
        var firstDelay: Duration = .zero
    }

    /// The load, on the version's first thread; it then becomes that thread's work loop. A
    /// transient failure is tried again, with backoff, while the load has not been given up.
    private func runLoad(bundleAt directory: String, loader: PluginLoader, retries: LoadRetries) {
        var result: Result<PluginLoader.LoadedBundle, BundleError>
        var attempt = 1
        var delay = retries.firstDelay
        while true {
            do {
                result = .success(try loader.load(bundleAt: directory))
            } catch {
                result = .failure(error)
            }
            guard case .failure(var error) = result, error.isTransient else { break }
            guard attempt < retries.attempts else {
                if attempt > 1 { error.message += " (gave up after \(attempt) attempts)" }
                result = .failure(error)
                break
            }
            guard state.withLock({ $0.machine.lifecycle == .loading }) else { return }
            events(SchedulerEvent(model: name, version: version, kind: .loadRetrying(attempt: attempt, delay: delay, reason: error.message)))
            // The version's own thread, before it serves: waiting here holds nobody else up.
            Thread.sleep(forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18)
            attempt += 1
            delay *= 2
        }
        guard case .success(let loaded) = result else {
            let waiter = state.withLock { locked -> Waiter? in
                guard locked.machine.abandonLoading() else { return nil }
                locked.loadOutcome = result
                return locked.takeWaiter(.loaded)
            }
            waiter?.resume(true)
            return
        }
        let limits = loaded.manifest.limits
        let threadCount = max(1, limits.maxConcurrency)
        let waiter = state.withLock { locked -> Waiter? in
            let batching = limits.batchDelayMilliseconds.flatMap { delay in
                limits.isBatching ? Machine.Batching(maxRows: limits.maxBatch, delay: .milliseconds(delay)) : nil
            }
            let machineLimits = Machine.Limits(
                maxConcurrency: threadCount, maxQueue: limits.maxQueue,
                idleCheckInterval: .milliseconds(limits.timeoutMilliseconds), batching: batching
            )
            guard locked.machine.becomeReady(limits: machineLimits) else { return nil }
            locked.breaker = Breaker(configuration: .init(loaded.manifest.breaker))
            let retry = loaded.manifest.retry
            if retry.maxAttempts > 1 {
                locked.retry = RetryPolicy(configuration: .init(retry), random: SplitMix64())
            }
            isBatching.store(batching != nil, ordering: .relaxed)
            locked.instance = loaded.instance
            locked.parkers = (0..<threadCount).map { _ in DispatchSemaphore(value: 0) }
            locked.flags = (0..<threadCount).map { _ in CancellationFlag() }
            locked.loadOutcome = result
            return locked.takeWaiter(.loaded)
        }
        guard let waiter else {
            // Given up while loading: nobody will serve this instance.
            loaded.instance.destroy()
            events(SchedulerEvent(model: name, version: version, kind: .lateLoadDiscarded))
            return
        }
        watchdog.register(self)
        for index in 1..<threadCount {
            Self.startThread(named: threadName(index)) { self.work(index) }
        }
        waiter.resume(true)
        work(0)
    }

    // MARK: Shutting down

    /// Stops taking work, lets what is queued and running finish until `deadline`, then destroys
    /// the instance on one of the version's threads and ends them.
    ///
    /// Jobs still queued at `deadline` are refused. If calls are still running then, they keep
    /// their threads (abandoned) and the instance is destroyed only if they ever return; the
    /// report counts them. Never waits past `deadline`.
    func shutdown(deadline: ContinuousClock.Instant) async -> ShutdownReport {
        _ = await wait(for: .drained, until: deadline, isSatisfied: { $0.machine.beginDraining() })
        let now = ContinuousClock.now
        let retirement = state.withLock { locked -> (Machine.Retirement, [DispatchSemaphore]) in
            let retirement = locked.machine.retire()
            for worker in retirement.stillRunningWorkers { locked.flags[worker].raise() }
            return (retirement, retirement.wake.map { locked.parkers[$0] })
        }
        watchdog.unregister(self)
        for call in retirement.0.abandoned {
            call.answer(.failure(ModelHostError(.modelNotReady, "model \"\(name)\" version \(version) shut down before answering the request", modelVersion: version)), at: now)
        }
        retirement.1.forEach { $0.signal() }
        var isDestroyed = retirement.0.isFinished
        if retirement.0.stillRunningWorkers.isEmpty && !isDestroyed {
            isDestroyed = await wait(for: .finished, until: deadline, isSatisfied: { $0.machine.isFinished })
        }
        let report = ShutdownReport(model: name, version: version, isDestroyed: isDestroyed, stillRunning: retirement.0.stillRunningWorkers.count)
        events(SchedulerEvent(model: name, version: version, kind: .shutDown(isDestroyed: isDestroyed, stillRunning: report.stillRunning)))
        return report
    }

    /// Waits for `event`, or until `deadline`.
    ///
    /// `isSatisfied` is checked first, under the lock: when it holds, nothing is awaited. Else the
    /// waiter is stored, then `start` runs (outside the lock), and whoever comes first resumes
    /// it: the event, by taking the waiter, or the timer at `deadline` — if `timesOut`, run under
    /// the lock, agrees that the timeout still applies.
    ///
    /// - Returns: `true` when the event came (or the condition held), `false` at the deadline.
    private func wait(
        for event: Event, until deadline: ContinuousClock.Instant,
        isSatisfied: (inout Locked) -> Bool = { _ in false },
        timesOut: @escaping @Sendable (inout Locked) -> Bool = { _ in true },
        then start: () -> Void = {}
    ) async -> Bool {
        await withCheckedContinuation { continuation in
            let isSatisfiedNow = state.withLock { locked -> Bool in
                if isSatisfied(&locked) { return true }
                locked.waiters[event] = Waiter(continuation: continuation, timer: nil)
                return false
            }
            if isSatisfiedNow {
                continuation.resume(returning: true)
                return
            }
            // Started only once the waiter is stored, so an early deadline cannot miss it.
            let timer = Task {
                try? await ContinuousClock().sleep(until: deadline)
                guard !Task.isCancelled else { return }
                self.state.withLock { locked in timesOut(&locked) ? locked.takeWaiter(event) : nil }?.resume(false)
            }
            state.withLock { locked in
                if locked.waiters[event] != nil { locked.waiters[event]?.timer = timer } else { timer.cancel() }
            }
            start()
        }
    }

    /// How many times a free thread yields, watching for a new job, before it parks.
    static let pollRounds = 50

    // MARK: Errors and names

    private func error(for refusal: Machine.Refusal, queued: Int) -> ModelHostError {
        switch refusal {
        case .overloaded:
            return ModelHostError(.overloaded, "model \"\(name)\" version \(version) is overloaded: every thread is busy and \(queued) requests are waiting, its limit (limits.maxQueue)", modelVersion: version)
        case .notReady(let lifecycle):
            return ModelHostError(.modelNotReady, "model \"\(name)\" version \(version) is not taking requests (\(Lifecycle(lifecycle)))", modelVersion: version)
        case .deadlinePassed:
            return ModelHostError(.timeout, "the request's deadline passed before it reached model \"\(name)\"", modelVersion: version)
        }
    }

    func timeoutError(_ job: InferenceJob) -> ModelHostError {
        ModelHostError(.timeout, "model \"\(name)\" version \(version) did not answer within \(Self.describe(job.timeout))", modelVersion: version)
    }

    static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return "\(milliseconds) ms"
    }

    /// A thread name within the 15 bytes Linux keeps: `mh-<model>-<index>`.
    private func threadName(_ index: Int) -> String {
        let suffix = "-\(index)"
        return String(decoding: "mh-\(name)".utf8.prefix(15 - suffix.utf8.count), as: UTF8.self) + suffix
    }

    private static func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            // Named from inside: on Linux a name set before start() never reaches the OS thread.
            Thread.current.name = name
            body()
        }
        thread.start()
    }
}

extension ServingVersion {
    /// Where a version stands.
    public struct Lifecycle: Hashable, Sendable, CustomStringConvertible {
        private let state: Machine.Lifecycle

        fileprivate init(_ state: Machine.Lifecycle) { self.state = state }

        /// Loading on its first thread.
        public static let loading = Lifecycle(.loading)
        /// Serving.
        public static let ready = Lifecycle(.ready)
        /// Finishing what it has; taking nothing new.
        public static let draining = Lifecycle(.draining)
        /// Shut down, or never loaded.
        public static let retired = Lifecycle(.retired)

        public var description: String {
            switch state {
            case .loading: "loading"
            case .ready: "ready"
            case .draining: "draining"
            case .retired: "retired"
            }
        }
    }
}

extension ServingVersion.Locked {
    /// Removes and returns the waiter for `event`, cancelling its timer.
    mutating func takeWaiter(_ event: ServingVersion.Event) -> ServingVersion.Waiter? {
        let waiter = waiters.removeValue(forKey: event)
        waiter?.timer?.cancel()
        return waiter
    }

    /// The drain waiter, if the version is draining and has nothing left to do.
    mutating func takeWaiterIfDrained() -> ServingVersion.Waiter? {
        machine.isDrained ? takeWaiter(.drained) : nil
    }
}

extension ServingVersion.Waiter {
    func resume(_ value: Bool) {
        continuation.resume(returning: value)
    }
}
