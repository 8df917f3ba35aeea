import Synchronization

/// The memory all buffered request bodies may take together, across every connection.
///
/// A request reserves its body's size before the first byte is buffered (its `Content-Length`,
/// or chunk by chunk) and gives it back when it has been answered; a request that does not fit
/// is refused with 503 ``ModelHostCore/ModelHostError/Code/overloaded``. So however many
/// clients send large bodies at once, the bodies held never exceed the budget.
final class RequestBodyBudget: Sendable {
    /// The budget, in bytes.
    let limit: Int
    private let used = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Reserves `bytes`, or returns `false` without reserving when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = used.load(ordering: .relaxed)
        while true {
            guard bytes <= limit - current else { return false }
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    /// Gives back `bytes` reserved earlier.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.subtract(bytes, ordering: .relaxed)
    }
}
