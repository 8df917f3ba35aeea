/// The last outcomes a closed breaker judges: a ring of fixed capacity that keeps running counts,
/// so that recording an outcome and reading a rate are O(1) and memory never grows.
struct OutcomeWindow: Sendable, Hashable {
    /// One outcome: bit 0 set when it failed, bit 1 when it was slow.
    private var slots: [UInt8]
    /// Where the next outcome goes; once full, the oldest outcome.
    private var next = 0
    /// Outcomes held, at most the capacity.
    private(set) var count = 0
    /// Failed outcomes held.
    private(set) var failures = 0
    /// Slow outcomes held, failed or not.
    private(set) var slowCalls = 0

    private static let failureBit: UInt8 = 1
    private static let slowBit: UInt8 = 2

    /// Creates an empty window holding at most `capacity` outcomes (at least 1).
    init(capacity: Int) {
        slots = Array(repeating: 0, count: max(1, capacity))
    }

    /// The share of failed outcomes; 0 when empty.
    var failureRate: Double { count == 0 ? 0 : Double(failures) / Double(count) }

    /// The share of slow outcomes; 0 when empty.
    var slowCallRate: Double { count == 0 ? 0 : Double(slowCalls) / Double(count) }

    /// Adds an outcome, dropping the oldest when full.
    mutating func append(isFailure: Bool, isSlow: Bool) {
        if count == slots.count {
            let oldest = slots[next]
            if oldest & Self.failureBit != 0 { failures -= 1 }
            if oldest & Self.slowBit != 0 { slowCalls -= 1 }
        } else {
            count += 1
        }
        slots[next] = (isFailure ? Self.failureBit : 0) | (isSlow ? Self.slowBit : 0)
        if isFailure { failures += 1 }
        if isSlow { slowCalls += 1 }
        next += 1
        if next == slots.count { next = 0 }
    }

    /// Forgets every outcome, keeping the storage.
    mutating func removeAll() {
        next = 0
        count = 0
        failures = 0
        slowCalls = 0
    }
}
