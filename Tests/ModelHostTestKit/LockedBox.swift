import Synchronization

/// A value that concurrent test tasks share, behind a lock.
public final class LockedBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    /// Creates a box holding `value`.
    public init(_ value: Value) {
        storage = Mutex(value)
    }

    /// Changes the value under the lock.
    public func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result {
        storage.withLock { body(&$0) }
    }

    /// The value now.
    public var value: Value { storage.withLock { $0 } }
}
