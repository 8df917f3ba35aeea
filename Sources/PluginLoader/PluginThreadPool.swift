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
    private var busy = 0
    private var isShuttingDown = false
    private let threadCount: Int
    private let queueCapacity: Int

    /// Starts `threadCount` threads named after `label` (cut to the 15 bytes Linux keeps).
    init(label: String, threadCount: Int, queueCapacity: Int) {
        self.threadCount = max(1, threadCount)
        self.queueCapacity = queueCapacity
        for index in 0..<self.threadCount {
            let suffix = "-\(index)"
            let name = String(decoding: label.utf8.prefix(15 - suffix.utf8.count), as: UTF8.self) + suffix
            let thread = Thread { [self] in
                // Named from inside: on Linux a name set before start() never reaches the OS thread.
                Thread.current.name = name
                self.work()
            }
            thread.start()
        }
    }

    /// Queues `job` to run on one of the pool's threads.
    ///
    /// A job beyond the threads that are free waits in the queue, which holds at most
    /// `queueCapacity` of them.
    ///
    /// - Returns: `false`, without queueing, when the queue is full or the pool is shutting down.
    func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !isShuttingDown, jobs.count - head < queueCapacity + (threadCount - busy) else { return false }
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

    private func work() {
        condition.lock()
        while true {
            while head == jobs.count && !isShuttingDown {
                condition.wait()
            }
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
            busy += 1
            condition.unlock()
            job()
            condition.lock()
            busy -= 1
        }
    }
}
