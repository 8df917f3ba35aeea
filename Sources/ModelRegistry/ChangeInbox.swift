import Synchronization

/// What the reconcile loop has been told to look at since it last looked, and the doorbell that
/// wakes it.
///
/// The watcher's queue and the timers post here from any thread; the loop takes everything at
/// once. Changes are kept as sets, so however many events arrive while the loop is busy (loading
/// a bundle can take a minute), what waits is bounded by the number of paths, and the doorbell
/// holds at most one ring.
final class ChangeInbox: Sendable {
    /// Everything posted since the last ``take()``.
    struct Pending: Sendable, Hashable {
        /// Rescan everything: events were lost, or the models directory itself changed.
        var isFullRescanDue = false
        /// Whether a full rescan is due because the kernel's event queue overflowed.
        var didOverflow = false
        /// Model folders to list again.
        var models: Set<String> = []
        /// Bundle folders to look at again.
        var bundles: Set<BundleKey> = []
    }

    private let pending = Mutex(Pending())
    private let doorbell: AsyncStream<Void>.Continuation
    /// Rings once for any number of posts made while nobody was listening; ends at ``close()``.
    let rings: AsyncStream<Void>

    /// Creates an empty inbox.
    init() {
        (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds to what is pending and rings.
    func post(_ update: (inout Pending) -> Void) {
        pending.withLock { update(&$0) }
        doorbell.yield()
    }

    /// Rings without posting anything: a timer is due.
    func ring() {
        doorbell.yield()
    }

    /// Takes everything pending.
    func take() -> Pending {
        pending.withLock { pending in
            defer { pending = Pending() }
            return pending
        }
    }

    /// Ends ``rings``: the loop stops listening.
    func close() {
        doorbell.finish()
    }

    /// What a watcher event asks the loop to look at, for a models directory at `root`.
    ///
    /// Names starting with `.` are never looked at: that is where copies are staged before the
    /// rename that makes them appear whole.
    static func record(_ event: DirectoryWatcher.Event, root: String, in pending: inout Pending) {
        if event.mask.contains(.overflow) {
            pending.isFullRescanDue = true
            pending.didOverflow = true
            return
        }
        guard event.directory == root || event.directory.hasPrefix(root + "/") else { return }
        var components = event.directory.dropFirst(root.count).split(separator: "/").map(String.init)
        if let name = event.name { components.append(name) }
        guard !components.contains(where: { $0.hasPrefix(".") }) else { return }
        switch components.count {
        case 0: pending.isFullRescanDue = true
        case 1: pending.models.insert(components[0])
        default: pending.bundles.insert(BundleKey(name: components[0], version: components[1]))
        }
    }
}

/// Tells the reconcile loop's waits that the reconciler is shutting down.
final class StopSignal: Sendable {
    private struct State {
        var isStopped = false
        var waiters: [Int: @Sendable () -> Void] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Creates a signal not raised yet.
    init() {}

    /// Whether the signal has been raised.
    var isStopped: Bool { state.withLock { $0.isStopped } }

    /// Raises the signal: every ``unlessStopped(_:)`` returns `nil` at once.
    func stop() {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            state.isStopped = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        waiters.forEach { $0() }
    }

    /// Runs `operation` in a task of its own and returns its result, or `nil` as soon as the
    /// signal is raised; the operation then goes on without anyone waiting for it.
    func unlessStopped<Value: Sendable>(_ operation: @escaping @Sendable () async -> Value) async -> Value? {
        let once = ResumeOnce<Value?>()
        return await withCheckedContinuation { continuation in
            once.install(continuation)
            let waiter = state.withLock { state -> Int? in
                guard !state.isStopped else { return nil }
                defer { state.nextWaiter += 1 }
                state.waiters[state.nextWaiter] = { once.resume(nil) }
                return state.nextWaiter
            }
            guard let waiter else {
                once.resume(nil)
                return
            }
            Task {
                let value = await operation()
                _ = self.state.withLock { $0.waiters.removeValue(forKey: waiter) }
                once.resume(value)
            }
        }
    }
}

/// A continuation that the first of several racers resumes; the others find it taken.
private final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value, Never>?>(nil)

    /// Sets the continuation to resume.
    func install(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes the continuation with `value`, unless it already was.
    func resume(_ value: Value) {
        continuation.withLock { slot in
            defer { slot = nil }
            return slot
        }?.resume(returning: value)
    }
}
