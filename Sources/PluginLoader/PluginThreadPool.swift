import Foundation

/// Threads of a model version's own, on which all of its plugin code runs.
///
/// Plugin calls are blocking C calls; they never run on Swift's cooperative pool or an event
/// loop. A pool has exactly as many threads as the instance accepts concurrent calls, so the
/// plugin's declared thread-safety is never exceeded, and a bounded queue in front of them.
final class PluginThreadPool: @unchecked Sendable {
    // Safe: every mutable field below is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var isShuttingDown = false
    private let queueCapacity: Int

    /// Starts `threadCount` threads named after `label`.
    init(label: String, threadCount: Int, queueCapacity: Int) {
        self.queueCapacity = queueCapacity
        for index in 0..<max(1, threadCount) {
            let thread = Thread { [self] in self.work() }
            thread.name = "\(label)-\(index)"
            thread.start()
        }
    }

    /// Jobs waiting for a thread.
    var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count - head
    }

    /// Queues `job` to run on one of the pool's threads.
    ///
    /// - Returns: `false`, without queueing, when the queue is full or the pool is shutting down.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // Jobs beyond the idle threads wait in the queue; refuse once it is at capacity.
        guard !isShuttingDown, jobs.count - head - idleCount < queueCapacity else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// Lets the queued jobs finish, then ends the threads. Submissions after this are refused.
    func shutdown() {
        condition.lock()
        isShuttingDown = true
        condition.broadcast()
        condition.unlock()
    }

    private var idleCount = 0

    private func work() {
        while true {
            condition.lock()
            idleCount += 1
            while head == jobs.count && !isShuttingDown {
                condition.wait()
            }
            idleCount -= 1
            if head == jobs.count {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 64 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
