import Synchronization

/// A flag a plugin may poll during a call to learn that nobody waits for its result any more.
///
/// The host raises it when the call's deadline passes or its caller goes away, and lowers it
/// before the next call on the same thread. Plugins read it through the ABI's
/// `mh_call_is_cancelled`; reading is one atomic load.
public final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    /// Creates a lowered flag.
    public init() {}

    /// Whether the flag is raised.
    public var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// Raises the flag.
    public func raise() { raised.store(true, ordering: .relaxed) }

    /// Lowers the flag, for the next call.
    public func lower() { raised.store(false, ordering: .relaxed) }
}
