extension ServingVersion {
    /// Everything a model version's execution decides: its lifecycle, its bounded queue, what
    /// each of its threads is doing, and every request's deadline.
    ///
    /// A pure value: each transition takes the current instant, changes the state and returns
    /// what the caller must do once it has released the lock around the machine — wake a thread,
    /// call the plugin, answer a job. So every rule (the bulkhead, deadlines answered exactly
    /// once, drain) is decided here and tested without threads or a real clock.
    ///
    /// Every job is answered exactly once: by the thread that ran it, by the deadline check, by a
    /// cancellation, or on retirement. A job that is answered while its call is still running
    /// (deadline passed, caller gone) leaves its thread and its concurrency slot held until the
    /// plugin returns, so the bulkhead never counts a hung call as free.
    struct StateMachine<Instant: InstantProtocol, Job> {
        typealias Duration = Instant.Duration

        /// Where the version stands.
        enum Lifecycle: Hashable, Sendable {
            /// The bundle is being loaded on the version's first thread.
            case loading
            /// Taking work.
            case ready
            /// Taking no new work; finishing what it has.
            case draining
            /// Done: its threads end (after one of them destroys the instance).
            case retired
        }

        /// Identifies one submitted job.
        struct Ticket: Hashable, Sendable {
            fileprivate let rawValue: UInt64
        }

        /// The version's execution limits, from its manifest.
        struct Limits: Sendable {
            /// Calls at once, and so threads. At least 1.
            var maxConcurrency: Int
            /// Jobs that may wait for a thread.
            var maxQueue: Int
            /// How long the deadline check may sleep while nothing is pending: the manifest's
            /// timeout, so that a job submitted with the default timeout never needs to wake it.
            var idleCheckInterval: Duration
        }

        /// Why a job was not taken.
        enum Refusal: Hashable, Sendable {
            /// The version is not taking work.
            case notReady(Lifecycle)
            /// Every thread is busy and the queue is full.
            case overloaded
            /// The job's deadline had passed before it was submitted.
            case deadlinePassed
        }

        enum SubmitAction {
            /// Queued. `wake` names a parked thread to wake; `isEarlierDeadline` says the deadline
            /// check must be told, because this job's deadline comes before its next check.
            case enqueued(Ticket, wake: Int?, isEarlierDeadline: Bool)
            case refused(Refusal)
        }

        enum WorkerAction {
            /// Call the plugin for `job`; then report ``finish(worker:now:)``.
            case run(Ticket, Job, deadline: Instant)
            /// Nothing to do: wait to be woken.
            case park
            /// Nothing to do yet, and the thread may not park: it stays free (so a new job goes
            /// to it without waking anyone) and asks again shortly.
            case poll
            /// Destroy the instance; then report ``destroyed(worker:)``.
            case destroy
            /// End the thread.
            case exit
        }

        enum FinishAction {
            /// Answer the job with the call's result.
            case deliver(Job)
            /// The job was already answered (deadline or cancellation): drop the result. `overrun`
            /// is how far past its deadline the call ran, when the deadline answered it.
            case discard(overrun: Duration?)
        }

        enum CancelAction {
            /// Nothing to do: the job was already answered.
            case none
            /// The job was waiting; it is removed. Answer it.
            case removedFromQueue(Job)
            /// The job was running on `worker`; raise that thread's cancellation flag and answer
            /// the job. The thread and slot stay held until the plugin returns.
            case cancelledWhileRunning(Job, worker: Int)
        }

        /// The outcome of a deadline check.
        struct Expiry {
            /// Jobs whose deadline has passed, to answer with a timeout.
            var timedOut: [Job] = []
            /// Threads running a call whose deadline has passed: raise their cancellation flags.
            var overdueWorkers: [Int] = []
            /// When to check again; `nil` once the version is retired.
            var nextCheck: Instant?
        }

        /// The outcome of retiring.
        struct Retirement {
            /// Parked threads to wake, so they destroy the instance or end.
            var wake: [Int] = []
            /// Jobs still queued or running whose callers wait, to answer as refused. Running
            /// calls keep their threads.
            var abandoned: [Job] = []
            /// Threads whose calls still run: raise their cancellation flags. The instance is
            /// destroyed when the last of them returns.
            var stillRunningWorkers: [Int] = []
            /// Whether every thread has already ended.
            var isFinished = false
        }

        private struct Queued {
            var ticket: Ticket
            var deadline: Instant
            var job: Job
        }

        private struct Running {
            var ticket: Ticket
            var deadline: Instant
            /// `nil` once the job has been answered while its call runs.
            var job: Job?
            /// Whether the deadline passed while the call ran.
            var isOverdue = false
        }

        /// Threads by state.
        private struct WorkerCounts {
            var free = 0
            var running = 0
            var overdue = 0
            var destroying = 0
            var exited = 0

            mutating func add(_ worker: Worker, _ delta: Int) {
                switch worker {
                case .free: free += delta
                case .parked: break
                case .running(let running):
                    self.running += delta
                    if running.isOverdue { overdue += delta }
                case .destroying: destroying += delta
                case .exited: exited += delta
                }
            }
        }

        private enum Worker {
            /// Will ask for work next.
            case free
            /// Waiting to be woken; listed in `parked`.
            case parked
            case running(Running)
            case destroying
            case exited
        }

        private(set) var lifecycle: Lifecycle = .loading
        private var limits: Limits?
        private var queue = RingBuffer<Queued>()
        private var workers: [Worker] = [.free]
        /// How many threads are in each state, kept with `workers` by ``setWorker(_:_:)``.
        private var counts = WorkerCounts(free: 1)
        /// Parked threads, most recently parked last (woken first: its cache is warm).
        private var parked: [Int] = []
        private var nextTicket: UInt64 = 0
        private var isInstanceDestroyed = false
        /// When the deadline check will next look at this version; `nil` when not scheduled.
        private(set) var nextCheck: Instant?

        /// Creates a machine for a version that is loading on its first thread (worker 0).
        init() {}

        // MARK: Reading

        /// Jobs waiting for a thread.
        var queuedCount: Int { queue.count }

        /// Calls running on the plugin, those past their deadline included.
        var runningCount: Int { counts.running }

        /// Calls still running past their deadline.
        var overdueCount: Int { counts.overdue }

        /// Whether the version can serve: ready, and not every slot held by a call past its
        /// deadline.
        var isServing: Bool {
            guard lifecycle == .ready, let limits else { return false }
            return overdueCount < limits.maxConcurrency
        }

        /// Whether every thread has ended.
        var isFinished: Bool { counts.exited == workers.count }

        private var isIdle: Bool { queue.isEmpty && counts.running == 0 }

        /// Whether the version is draining and has nothing left to do.
        var isDrained: Bool { lifecycle == .draining && isIdle }

        // MARK: Loading

        /// The load finished: the version takes work, on `limits.maxConcurrency` threads of
        /// which worker 0 (the loading thread) is the first.
        ///
        /// - Returns: `false`, changing nothing, when loading was already given up (it timed
        ///   out): the loading thread must then destroy what it made and end.
        mutating func becomeReady(limits: Limits) -> Bool {
            guard lifecycle == .loading else { return false }
            lifecycle = .ready
            self.limits = limits
            workers = Array(repeating: .free, count: max(1, limits.maxConcurrency))
            counts = WorkerCounts(free: workers.count)
            return true
        }

        /// Loading is given up (it failed or timed out): the version never serves.
        ///
        /// - Returns: `false` when loading had already finished one way or the other.
        mutating func abandonLoading() -> Bool {
            guard lifecycle == .loading else { return false }
            lifecycle = .retired
            workers = [.exited]
            counts = WorkerCounts(exited: 1)
            isInstanceDestroyed = true
            return true
        }

        // MARK: The request path

        /// Takes `job` if the version is ready and has room: a free thread, or a place in the queue.
        mutating func submit(_ job: Job, deadline: Instant, now: Instant) -> SubmitAction {
            guard lifecycle == .ready, let limits else { return .refused(.notReady(lifecycle)) }
            guard now < deadline else { return .refused(.deadlinePassed) }
            let freeThreads = workers.count - counts.running
            guard queue.count < limits.maxQueue + freeThreads else { return .refused(.overloaded) }
            let ticket = Ticket(rawValue: nextTicket)
            nextTicket &+= 1
            queue.append(Queued(ticket: ticket, deadline: deadline, job: job))
            // A thread that is awake and free takes the job without being woken: wake a parked
            // one only when the queue holds more jobs than there are such threads.
            var wake: Int?
            if queue.count > counts.free, let worker = parked.popLast() {
                setWorker(worker, .free)
                wake = worker
            }
            let isEarlier = nextCheck.map { deadline < $0 } ?? true
            if isEarlier { nextCheck = deadline }
            return .enqueued(ticket, wake: wake, isEarlierDeadline: isEarlier)
        }

        /// A thread asks for work. Jobs found expired at the front of the queue are handed back
        /// to be answered with a timeout.
        ///
        /// - Parameter mayPark: Whether the thread parks when there is nothing to do; else it is
        ///   told to ``WorkerAction/poll``.
        mutating func nextAction(worker: Int, now: Instant, mayPark: Bool = true) -> (action: WorkerAction, expired: [Job]) {
            switch lifecycle {
            case .loading:
                return (park(worker), [])
            case .ready, .draining:
                var expired: [Job] = []
                while let next = queue.popFirst() {
                    if next.deadline <= now {
                        expired.append(next.job)
                        continue
                    }
                    setWorker(worker, .running(Running(ticket: next.ticket, deadline: next.deadline, job: next.job)))
                    return (.run(next.ticket, next.job, deadline: next.deadline), expired)
                }
                return (mayPark ? park(worker) : .poll, expired)
            case .retired:
                if !isInstanceDestroyed, counts.running == 0, counts.destroying == 0 {
                    setWorker(worker, .destroying)
                    return (.destroy, [])
                }
                setWorker(worker, .exited)
                return (.exit, [])
            }
        }

        /// Changes a thread's state, keeping the counts.
        private mutating func setWorker(_ index: Int, _ state: Worker) {
            counts.add(workers[index], -1)
            workers[index] = state
            counts.add(state, 1)
        }

        private mutating func park(_ worker: Int) -> WorkerAction {
            setWorker(worker, .parked)
            parked.append(worker)
            return .park
        }

        /// A thread's call returned.
        ///
        /// - Returns: What to do with the result.
        mutating func finish(worker: Int, now: Instant) -> FinishAction {
            guard case .running(let running) = workers[worker] else {
                preconditionFailure("worker \(worker) finished a call it was not running")
            }
            setWorker(worker, .free)
            if let job = running.job {
                return .deliver(job)
            }
            return .discard(overrun: running.isOverdue ? running.deadline.duration(to: now) : nil)
        }

        /// Removes a job whose caller went away: from the queue, or from its running call.
        mutating func cancel(_ ticket: Ticket) -> CancelAction {
            if let removed = queue.removeAll(where: { $0.ticket == ticket }).first {
                return .removedFromQueue(removed.job)
            }
            for index in workers.indices {
                guard case .running(var running) = workers[index], running.ticket == ticket, let job = running.job else { continue }
                running.job = nil
                setWorker(index, .running(running))
                return .cancelledWhileRunning(job, worker: index)
            }
            return .none
        }

        // MARK: Deadlines

        /// Answers every job whose deadline is at or before `now`: queued ones are removed, running
        /// ones are answered and keep their thread. Schedules the next check.
        mutating func expire(now: Instant) -> Expiry {
            var expiry = Expiry()
            guard lifecycle != .retired, lifecycle != .loading else {
                nextCheck = nil
                return expiry
            }
            expiry.timedOut = queue.removeAll { $0.deadline <= now }.map(\.job)
            var earliest: Instant?
            queue.forEach { queued in
                if earliest.map({ queued.deadline < $0 }) ?? true { earliest = queued.deadline }
            }
            for index in workers.indices {
                guard case .running(var running) = workers[index], let job = running.job else { continue }
                if running.deadline <= now {
                    running.job = nil
                    running.isOverdue = true
                    setWorker(index, .running(running))
                    expiry.timedOut.append(job)
                    expiry.overdueWorkers.append(index)
                } else if earliest.map({ running.deadline < $0 }) ?? true {
                    earliest = running.deadline
                }
            }
            let next = earliest ?? limits.map { now.advanced(by: $0.idleCheckInterval) }
            nextCheck = next
            expiry.nextCheck = next
            return expiry
        }

        // MARK: Shutting down

        /// Stops taking new work; what is queued and running goes on.
        ///
        /// - Returns: Whether nothing is left to do already.
        mutating func beginDraining() -> Bool {
            if lifecycle == .ready { lifecycle = .draining }
            return lifecycle == .draining && isIdle
        }

        /// Ends the version: queued jobs are handed back to be refused, parked threads are woken to
        /// destroy the instance (once no call runs) and end.
        mutating func retire() -> Retirement {
            var retirement = Retirement()
            guard lifecycle != .retired else {
                retirement.isFinished = isFinished
                return retirement
            }
            lifecycle = .retired
            nextCheck = nil
            retirement.abandoned = queue.removeAll { _ in true }.map(\.job)
            for worker in parked {
                setWorker(worker, .free)
            }
            retirement.wake = parked
            parked = []
            for index in workers.indices {
                guard case .running(var running) = workers[index] else { continue }
                if let job = running.job {
                    retirement.abandoned.append(job)
                    running.job = nil
                    setWorker(index, .running(running))
                }
                retirement.stillRunningWorkers.append(index)
            }
            retirement.isFinished = isFinished
            return retirement
        }

        /// The thread told to ``WorkerAction/destroy`` has destroyed the instance.
        mutating func destroyed(worker: Int) {
            isInstanceDestroyed = true
            setWorker(worker, .free)
        }
    }
}
