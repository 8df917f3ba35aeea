import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The process's termination signals, delivered one by one: the first to ``next()``, later
/// ones to the handler given to ``onNext(_:)``.
final class SignalStream {
    /// What the signal sources deliver to.
    private final class Deliveries: Sendable {
        private struct State {
            var waiter: CheckedContinuation<Int32, Never>?
            var pending: [Int32] = []
            var handler: (@Sendable (Int32) -> Void)?
        }

        private let state = Mutex(State())

        func deliver(_ number: Int32) {
            let (waiter, handler) = state.withLock { state -> (CheckedContinuation<Int32, Never>?, (@Sendable (Int32) -> Void)?) in
                if let waiter = state.waiter.take() { return (waiter, nil) }
                if let handler = state.handler { return (nil, handler) }
                state.pending.append(number)
                return (nil, nil)
            }
            waiter?.resume(returning: number)
            handler?(number)
        }

        func next() async -> Int32 {
            await withCheckedContinuation { continuation in
                let pending = state.withLock { state -> Int32? in
                    if !state.pending.isEmpty { return state.pending.removeFirst() }
                    state.waiter = continuation
                    return nil
                }
                if let pending { continuation.resume(returning: pending) }
            }
        }

        func onNext(_ handler: @escaping @Sendable (Int32) -> Void) {
            let pending = state.withLock { state -> [Int32] in
                state.handler = handler
                defer { state.pending = [] }
                return state.pending
            }
            pending.forEach(handler)
        }
    }

    private let deliveries = Deliveries()
    // Kept for as long as the stream lives: a released source stops delivering.
    private let sources: [any DispatchSourceSignal]

    /// Starts catching `signals`; their default action (ending the process) no longer applies.
    init(_ signals: Int32...) {
        let deliveries = deliveries
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { deliveries.deliver(number) }
            source.resume()
            return source
        }
    }

    /// Waits for the next signal.
    func next() async -> Int32 {
        await deliveries.next()
    }

    /// Calls `handler` with every signal from now on.
    func onNext(_ handler: @escaping @Sendable (Int32) -> Void) {
        deliveries.onNext(handler)
    }
}
