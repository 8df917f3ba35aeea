import Dispatch
import Foundation
import Synchronization

/// The one thread that answers requests whose deadline passes: queued ones are removed, running
/// ones are answered while their calls go on.
///
/// It sleeps until the earliest instant any registered version asked to be checked at. A version
/// wakes it only when a new job's deadline comes before that version's next check, which with
/// uniform timeouts is almost never, so deadlines cost the request path no system call. It never
/// runs plugin code, so no plugin can stop it.
final class DeadlineWatchdog: Sendable {
    private struct State {
        var versions: [ObjectIdentifier: ServingVersion] = [:]
        var isStopping = false
        var stopped: CheckedContinuation<Void, Never>?
        var hasEnded = false
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    /// Starts the thread.
    init() {
        let thread = Thread { [self] in
            Thread.current.name = "mh-deadlines"
            self.run()
        }
        thread.start()
    }

    /// Starts checking `version`'s deadlines.
    func register(_ version: ServingVersion) {
        state.withLock { $0.versions[ObjectIdentifier(version)] = version }
        wake()
    }

    /// Stops checking `version`'s deadlines.
    func unregister(_ version: ServingVersion) {
        state.withLock { _ = $0.versions.removeValue(forKey: ObjectIdentifier(version)) }
    }

    /// Makes the thread look at every version now.
    func wake() {
        wakeup.signal()
    }

    /// Ends the thread and waits until it has ended.
    func stop() async {
        await withCheckedContinuation { continuation in
            let hasEnded = state.withLock { state -> Bool in
                state.isStopping = true
                if state.hasEnded { return true }
                state.stopped = continuation
                return false
            }
            if hasEnded {
                continuation.resume()
            } else {
                wake()
            }
        }
    }

    private func run() {
        while true {
            let (versions, isStopping) = state.withLock { (Array($0.versions.values), $0.isStopping) }
            if isStopping {
                state.withLock { state in
                    state.hasEnded = true
                    return state.stopped.take()
                }?.resume()
                return
            }
            let now = ContinuousClock.now
            var next: ContinuousClock.Instant?
            for version in versions {
                guard let check = version.expireOverdue(now: now) else { continue }
                if next.map({ check < $0 }) ?? true { next = check }
            }
            if let next {
                let remaining = now.duration(to: next)
                let nanoseconds = remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
                _ = wakeup.wait(timeout: .now() + .nanoseconds(Int(clamping: max(0, nanoseconds))))
            } else {
                wakeup.wait()
            }
        }
    }
}
