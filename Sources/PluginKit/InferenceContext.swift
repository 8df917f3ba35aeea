import CModelHostPlugin

#if canImport(Glibc)
import Glibc
#endif

/// What a plugin knows about one call: when its caller stops waiting, and whether anyone still
/// waits.
///
/// A long computation may check ``isCancelled`` between steps and stop early: once it is true,
/// the result is discarded whatever it is.
public struct InferenceContext: @unchecked Sendable {
    // Safe: the pointer is only read, through the host's own thread-safe `is_cancelled`, and only
    // during the call it belongs to; the context never outlives the call (it is not Sendable in
    // spirit, but `infer` implementations must be able to hand it to helper tasks they await).
    private let raw: UnsafePointer<mh_call_context>?

    init(_ raw: UnsafePointer<mh_call_context>?) {
        self.raw = raw
    }

    /// A call without a deadline that is never cancelled, for tests and warmup.
    public static let unbounded = InferenceContext(nil)

    /// The time left before the deadline (zero once it has passed), or `nil` for no deadline.
    public var timeRemaining: Duration? {
        guard let raw, raw.pointee.deadline_ns != Int64.max else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let left = raw.pointee.deadline_ns - (Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec))
        return .nanoseconds(max(0, left))
    }

    /// Whether nobody waits for the result any more: the deadline passed or the caller left.
    public var isCancelled: Bool {
        guard let raw else { return false }
        return mh_call_is_cancelled(raw) != 0
    }
}
