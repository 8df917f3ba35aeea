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
    ///
    /// Two more things are decided here. A failed call the caller's retry policy wants to repeat
    /// waits, holding its place in the bound, until its backoff ends, then goes to the front of
    /// the queue (``scheduleRetry(_:ticket:deadline:at:now:)``). And where the version batches,
    /// a thread takes several compatible queued jobs at once, waiting a little for more
    /// (``WorkerAction/runBatch(_:deadline:)``, ``WorkerAction/waitForBatch(until:)``).
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
            /// How jobs are joined into batches; `nil` when the version does not batch.
            var batching: Batching? = nil
        }

        /// How a batching version joins jobs.
        struct Batching: Sendable {
            /// The most rows (first-dimension entries) one call takes.
            var maxRows: Int
            /// How long the first job of a batch may wait for others.
            var delay: Duration
        }

        /// What makes a job joinable with others: jobs join when their keys are equal, and a
        /// batch holds at most ``Batching/maxRows`` rows.
        struct BatchSlot: Sendable {
            /// Equal for jobs whose tensors agree in everything but the first dimension.
            var key: BatchKey
            /// The job's first dimension.
            var rows: Int
        }

        /// One job of a batch handed to a thread.
        struct Member {
            var ticket: Ticket
            var job: Job
            var deadline: Instant
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
            /// Call the plugin once for these jobs, joined in this order; then report
            /// ``finish(worker:now:)``. `deadline` is the latest of theirs.
            case runBatch([Member], deadline: Instant)
            /// A batch is forming: wait until `until`, or until woken because it filled, then ask
            /// again.
            case waitForBatch(until: Instant)
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
            /// Answer the job with the call's result, or schedule it again
            /// (``scheduleRetry(_:ticket:deadline:at:now:)``).
            case deliver(Job, Ticket, deadline: Instant)
            /// Answer each job still waiting with its slice of the batch's result; `nil` marks a
            /// member answered while the call ran (deadline or cancellation).
            case deliverBatch([Job?])
            /// The job was already answered (deadline or cancellation): drop the result. `overrun`
            /// is how far past its deadline the call ran, when the deadline answered it.
            case discard(overrun: Duration?)
        }

        enum CancelAction {
            /// Nothing to do: the job was already answered.
            case none
            /// The job was waiting — in the queue, for a retry, or in a batch whose call goes on
            /// for others — and is removed. Answer it.
            case removedFromQueue(Job)
            /// The job was running on `worker`; raise that thread's cancellation flag and answer
            /// the job. The thread and slot stay held until the plugin returns.
            case cancelledWhileRunning(Job, worker: Int)
        }

        /// The outcome of a deadline check.
        struct Expiry {
            /// Jobs whose deadline passed while they waited, to answer with a timeout.
            var timedOut: [Job] = []
            /// Jobs whose deadline passed while their call ran, to answer with a timeout.
            var timedOutRunning: [Job] = []
            /// Threads running a call whose deadline has passed: raise their cancellation flags.
            var overdueWorkers: [Int] = []
            /// Retries whose backoff ended and whose caller's policy refused them at the last
            /// moment: answer them with the error that made them retry.
            var retriesRefused: [Job] = []
            /// Parked threads to wake for retries that went back into the queue.
            var wake: [Int] = []
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
            var submitted: Instant
            var batch: BatchSlot?
        }

        /// A job waiting for its retry's backoff to end.
        private struct Delayed {
            var ticket: Ticket
            var deadline: Instant
            var job: Job
            var retryAt: Instant
        }

        private struct Running {
            var ticket: Ticket
            var deadline: Instant
            /// `nil` once the job has been answered while its call runs.
            var job: Job?
            /// Whether the deadline passed while the call ran (every member's, for a batch).
            var isOverdue = false
            /// The other members of a batch, after this one; empty for a single job.
            var batch: [RunningMember] = []
        }

        private struct RunningMember {
            var ticket: Ticket
            var deadline: Instant
            var job: Job?
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
                case .parked, .waitingForBatch: break
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
            /// Waiting, at most until the batch's delay ends, for a batch to fill; it is
            /// `batchWaiter`.
            case waitingForBatch
            case running(Running)
            case destroying
            case exited
        }

        private(set) var lifecycle: Lifecycle = .loading
        private var limits: Limits?
        private var queue = RingBuffer<Queued>()
        /// Jobs waiting for a retry, in the order they are due; bounded with the queue.
        private var delayed: [Delayed] = []
        /// The thread waiting for a batch to fill, the key it waits on, and the rows queued for
        /// it so far (a hint: it is woken early when they reach ``Batching/maxRows``).
        private var batchWaiter: (worker: Int, key: BatchKey, rows: Int)?
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

        /// Jobs waiting for a thread, or for a retry.
        var queuedCount: Int { queue.count + delayed.count }

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

        private var isIdle: Bool { queue.isEmpty && delayed.isEmpty && counts.running == 0 }

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
        ///
        /// - Parameter batch: What makes the job joinable, when the version batches and the job
        ///   may join others; `nil` runs it alone.
        mutating func submit(_ job: Job, deadline: Instant, now: Instant, batch: BatchSlot? = nil) -> SubmitAction {
            guard lifecycle == .ready, let limits else { return .refused(.notReady(lifecycle)) }
            guard now < deadline else { return .refused(.deadlinePassed) }
            let freeThreads = workers.count - counts.running
            guard queue.count + delayed.count < limits.maxQueue + freeThreads else { return .refused(.overloaded) }
            let ticket = Ticket(rawValue: nextTicket)
            nextTicket &+= 1
            queue.append(Queued(ticket: ticket, deadline: deadline, job: job, submitted: now, batch: batch))
            var wake: Int?
            if let waiter = batchWaiter, let batch, batch.key == waiter.key {
                // It joins the forming batch: wake its thread only once the batch is full.
                batchWaiter?.rows += batch.rows
                if waiter.rows + batch.rows >= limits.batching?.maxRows ?? 1 {
                    batchWaiter = nil
                    setWorker(waiter.worker, .free)
                    wake = waiter.worker
                }
            } else if queue.count > counts.free, let worker = parked.popLast() {
                // A thread that is awake and free takes the job without being woken: wake a
                // parked one only when the queue holds more jobs than there are such threads.
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
        /// - Parameters:
        ///   - mayPark: Whether the thread parks when there is nothing to do; else it is told to
        ///     ``WorkerAction/poll``.
        ///   - starting: Applied to each job whose call starts, with the number of jobs the call
        ///     takes, before the job is kept as running and handed out.
        mutating func nextAction(
            worker: Int, now: Instant, mayPark: Bool = true, starting: (inout Job, _ callSize: Int) -> Void = { _, _ in }
        ) -> (action: WorkerAction, expired: [Job]) {
            if batchWaiter?.worker == worker { batchWaiter = nil }
            // A thread may return from its park without being woken: its semaphore kept a signal
            // from a wait for a batch that timed out as the batch filled. It is no longer parked,
            // so nothing may wake it again as if it were (and take it from a call it runs).
            if case .parked = workers[worker], let listed = parked.lastIndex(of: worker) {
                parked.remove(at: listed)
                setWorker(worker, .free)
            }
            switch lifecycle {
            case .loading:
                return (park(worker), [])
            case .ready, .draining:
                var expired: [Job] = []
                while let next = queue.first {
                    if next.deadline <= now {
                        _ = queue.popFirst()
                        expired.append(next.job)
                        continue
                    }
                    if let batching = limits?.batching, let slot = next.batch {
                        return (takeBatch(of: slot, batching: batching, worker: worker, now: now, expired: &expired, starting: starting), expired)
                    }
                    var job = queue.popFirst()!.job
                    starting(&job, 1)
                    setWorker(worker, .running(Running(ticket: next.ticket, deadline: next.deadline, job: job)))
                    return (.run(next.ticket, job, deadline: next.deadline), expired)
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

        /// The front job can join others: take it and the queued jobs with its key, up to
        /// `maxRows` rows, once the batch is full, its delay has passed, or the version drains;
        /// until then one thread waits for it.
        private mutating func takeBatch(
            of slot: BatchSlot, batching: Batching, worker: Int, now: Instant, expired: inout [Job], starting: (inout Job, Int) -> Void
        ) -> WorkerAction {
            let front = queue.first!
            var rows = 0
            queue.forEach { queued in
                if let other = queued.batch, other.key == slot.key, queued.deadline > now { rows += other.rows }
            }
            let isDue = rows >= batching.maxRows || front.submitted.advanced(by: batching.delay) <= now || lifecycle == .draining
            if !isDue {
                guard batchWaiter == nil else { return park(worker) }
                batchWaiter = (worker, slot.key, rows)
                setWorker(worker, .waitingForBatch)
                return .waitForBatch(until: front.submitted.advanced(by: batching.delay))
            }
            var taken = 0
            var members: [Member] = []
            let joined = queue.removeAll { queued in
                guard let other = queued.batch, other.key == slot.key else { return false }
                if queued.deadline <= now { return true }
                guard taken == 0 || taken + other.rows <= batching.maxRows else { return false }
                taken += other.rows
                return true
            }
            for queued in joined {
                if queued.deadline <= now {
                    expired.append(queued.job)
                } else {
                    members.append(Member(ticket: queued.ticket, job: queued.job, deadline: queued.deadline))
                }
            }
            for index in members.indices { starting(&members[index].job, members.count) }
            let lead = members[0]
            if members.count == 1 {
                setWorker(worker, .running(Running(ticket: lead.ticket, deadline: lead.deadline, job: lead.job)))
                return .run(lead.ticket, lead.job, deadline: lead.deadline)
            }
            let latest = members.map(\.deadline).max()!
            let rest = members.dropFirst().map { RunningMember(ticket: $0.ticket, deadline: $0.deadline, job: $0.job) }
            setWorker(worker, .running(Running(ticket: lead.ticket, deadline: lead.deadline, job: lead.job, batch: rest)))
            return .runBatch(members, deadline: latest)
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
            if !running.batch.isEmpty {
                let jobs = [running.job] + running.batch.map(\.job)
                if jobs.contains(where: { $0 != nil }) { return .deliverBatch(jobs) }
            } else if let job = running.job {
                return .deliver(job, running.ticket, deadline: running.deadline)
            }
            let latest = running.batch.reduce(running.deadline) { max($0, $1.deadline) }
            return .discard(overrun: running.isOverdue ? latest.duration(to: now) : nil)
        }

        /// Queues `job` again, under its `ticket` and `deadline`, once `retryAt` has come: a
        /// failed call its caller's retry policy repeats. Until then it keeps its place in the
        /// bound, can be cancelled, and is answered at its deadline if that comes first.
        ///
        /// - Returns: Whether the deadline check must be told, because the retry is due before
        ///   its next check.
        mutating func scheduleRetry(_ job: Job, ticket: Ticket, deadline: Instant, at retryAt: Instant, now: Instant) -> Bool {
            let index = delayed.firstIndex { $0.retryAt > retryAt } ?? delayed.endIndex
            delayed.insert(Delayed(ticket: ticket, deadline: deadline, job: job, retryAt: retryAt), at: index)
            let isEarlier = nextCheck.map { retryAt < $0 } ?? true
            if isEarlier { nextCheck = retryAt }
            return isEarlier
        }

        /// Removes a job whose caller went away: from the queue, from its backoff, or from its
        /// running call.
        mutating func cancel(_ ticket: Ticket) -> CancelAction {
            if let removed = queue.removeAll(where: { $0.ticket == ticket }).first {
                return .removedFromQueue(removed.job)
            }
            if let index = delayed.firstIndex(where: { $0.ticket == ticket }) {
                return .removedFromQueue(delayed.remove(at: index).job)
            }
            for index in workers.indices {
                guard case .running(var running) = workers[index] else { continue }
                let job: Job
                if running.ticket == ticket, let lead = running.job {
                    job = lead
                    running.job = nil
                } else if let member = running.batch.firstIndex(where: { $0.ticket == ticket }), let found = running.batch[member].job {
                    job = found
                    running.batch[member].job = nil
                } else {
                    continue
                }
                setWorker(index, .running(running))
                // A batch's call goes on for its other members: its flag is raised only when
                // nobody is left waiting for it.
                let isAbandoned = running.job == nil && running.batch.allSatisfy { $0.job == nil }
                return isAbandoned ? .cancelledWhileRunning(job, worker: index) : .removedFromQueue(job)
            }
            return .none
        }

        // MARK: Deadlines

        /// Answers every job whose deadline is at or before `now`: queued ones are removed, running
        /// ones are answered and keep their thread. Puts retries whose backoff has ended back at
        /// the front of the queue — unless `mayRetry` refuses one now, which hands it back to be
        /// answered. Schedules the next check.
        mutating func expire(now: Instant, mayRetry: (Job) -> Bool = { _ in true }) -> Expiry {
            var expiry = Expiry()
            guard lifecycle != .retired, lifecycle != .loading else {
                nextCheck = nil
                return expiry
            }
            expiry.timedOut = queue.removeAll { $0.deadline <= now }.map(\.job)
            var earliest: Instant?
            func consider(_ instant: Instant) {
                if earliest.map({ instant < $0 }) ?? true { earliest = instant }
            }
            // Due retries, latest first, so that the earliest ends up at the front.
            var due = 0
            while due < delayed.count, delayed[due].retryAt <= now { due += 1 }
            for retry in delayed[..<due].reversed() {
                if retry.deadline <= now {
                    expiry.timedOut.append(retry.job)
                } else if mayRetry(retry.job) {
                    queue.prepend(Queued(ticket: retry.ticket, deadline: retry.deadline, job: retry.job, submitted: now, batch: nil))
                } else {
                    expiry.retriesRefused.append(retry.job)
                }
            }
            delayed.removeFirst(due)
            while queue.count > counts.free + expiry.wake.count, let worker = parked.popLast() {
                setWorker(worker, .free)
                expiry.wake.append(worker)
            }
            if let retry = delayed.first { consider(retry.retryAt) }
            queue.forEach { consider($0.deadline) }
            for index in workers.indices {
                guard case .running(var running) = workers[index] else { continue }
                var answered = false
                if let job = running.job {
                    if running.deadline <= now {
                        running.job = nil
                        expiry.timedOutRunning.append(job)
                        answered = true
                    } else {
                        consider(running.deadline)
                    }
                }
                for member in running.batch.indices {
                    guard let job = running.batch[member].job else { continue }
                    if running.batch[member].deadline <= now {
                        running.batch[member].job = nil
                        expiry.timedOutRunning.append(job)
                        answered = true
                    } else {
                        consider(running.batch[member].deadline)
                    }
                }
                // Overdue once nobody waits for the call any more and the last deadline passed.
                let latest = running.batch.reduce(running.deadline) { max($0, $1.deadline) }
                if answered, !running.isOverdue, latest <= now, running.job == nil, running.batch.allSatisfy({ $0.job == nil }) {
                    running.isOverdue = true
                    expiry.overdueWorkers.append(index)
                }
                if answered { setWorker(index, .running(running)) }
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
            retirement.abandoned = queue.removeAll { _ in true }.map(\.job) + delayed.map(\.job)
            delayed = []
            if let waiter = batchWaiter {
                batchWaiter = nil
                setWorker(waiter.worker, .parked)
                parked.append(waiter.worker)
            }
            for worker in parked {
                setWorker(worker, .free)
            }
            retirement.wake = parked
            parked = []
            for index in workers.indices {
                guard case .running(var running) = workers[index] else { continue }
                retirement.abandoned += ([running.job] + running.batch.map(\.job)).compactMap { $0 }
                running.job = nil
                for member in running.batch.indices { running.batch[member].job = nil }
                setWorker(index, .running(running))
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
