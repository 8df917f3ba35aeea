import CModelHostPlugin

#if canImport(Glibc)
import Glibc
#endif

/// What the host tells a plugin about one call: when the caller stops waiting, and a flag that
/// says nobody waits any more.
///
/// Handed to ABI 1.1 plugins as `mh_call_context`; ABI 1.0 plugins never see it.
public struct PluginCallContext: Sendable {
    /// When the caller stops waiting; `nil` for no deadline.
    public var deadline: ContinuousClock.Instant?
    /// Raised when the call's result is no longer wanted.
    public var cancellation: CancellationFlag?

    /// Creates a context.
    public init(deadline: ContinuousClock.Instant? = nil, cancellation: CancellationFlag? = nil) {
        self.deadline = deadline
        self.cancellation = cancellation
    }

    /// A context without a deadline or cancellation, as warmup samples run.
    public static let unbounded = PluginCallContext()

    /// Presents the context as an `mh_call_context` valid for the duration of `body`.
    func withRawContext<Result>(_ body: (UnsafePointer<mh_call_context>) -> Result) -> Result {
        var raw = mh_call_context()
        raw.struct_size = UInt32(MemoryLayout<mh_call_context>.size)
        raw.deadline_ns = deadline.map(Self.monotonicNanoseconds) ?? Int64.max
        raw.is_cancelled = { context in
            guard let host = context?.pointee.host_context else { return 0 }
            return Unmanaged<CancellationFlag>.fromOpaque(host).takeUnretainedValue().isRaised ? 1 : 0
        }
        guard let cancellation else {
            return withUnsafePointer(to: &raw, body)
        }
        return withExtendedLifetime(cancellation) {
            raw.host_context = Unmanaged.passUnretained(cancellation).toOpaque()
            return withUnsafePointer(to: &raw, body)
        }
    }

    /// `deadline` as nanoseconds of `CLOCK_MONOTONIC`, the clock the ABI promises.
    ///
    /// Swift's `ContinuousClock` need not be that clock, so the time left is measured on one and
    /// added to the other's present.
    static func monotonicNanoseconds(_ deadline: ContinuousClock.Instant) -> Int64 {
        let remaining = ContinuousClock.now.duration(to: deadline)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let nowNanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        let (seconds, attoseconds) = remaining.components
        let (total, overflow) = nowNanoseconds.addingReportingOverflow(seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000)
        return overflow || seconds > Int64.max / 1_000_000_000 ? Int64.max : max(0, total)
    }
}
