import Synchronization

/// A request's place in a distributed trace: the W3C Trace Context `traceparent` header.
///
/// `00-<trace-id>-<parent-id>-<trace-flags>`: a 32-hex-digit trace id shared by every hop of one
/// trace, the 16-hex-digit id of the span that sent the request, and 8 bits of flags (bit 0:
/// sampled). The server continues a caller's trace with `child()`, or starts one with `start()`.
public struct TraceContext: Sendable, Hashable {
    /// The trace's id: 32 lowercase hex digits, not all zero.
    public var traceID: String
    /// The span id of this hop: 16 lowercase hex digits, not all zero.
    public var parentID: String
    /// The trace flags; bit 0 says the trace is sampled.
    public var flags: UInt8

    /// The length of a version-00 header, and of the part of a later version's that it defines.
    private static let version00Length = 55

    /// Parses a `traceparent` header; nil when invalid.
    ///
    /// Follows Trace Context level 1: all hex lowercase; version `ff`, an all-zero trace id or
    /// parent id are invalid; version `00` is exactly 55 characters; a later version is read as
    /// version 00 from its first 55 characters, and anything after them must start with `-`.
    public init?(traceparent: String) {
        var header = traceparent
        guard let parsed = header.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(traceID: String, parentID: String, flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> TraceContext? {
        guard bytes.count >= version00Length,
            let version = hexByte(bytes, at: 0), version != 0xFF,
            bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            isNonZeroHex(bytes, 3..<35), isNonZeroHex(bytes, 36..<52),
            let flags = hexByte(bytes, at: 53)
        else { return nil }
        if version == 0 {
            guard bytes.count == version00Length else { return nil }
        } else if bytes.count > version00Length {
            guard bytes[version00Length] == UInt8(ascii: "-") else { return nil }
        }
        return TraceContext(
            traceID: String(decoding: UnsafeBufferPointer(rebasing: bytes[3..<35]), as: UTF8.self),
            parentID: String(decoding: UnsafeBufferPointer(rebasing: bytes[36..<52]), as: UTF8.self),
            flags: flags
        )
    }

    /// A new trace (random non-zero ids, flags 01 = sampled).
    public static func start() -> TraceContext {
        TraceContext(traceID: hex(IDSequence.next()) + hex(IDSequence.next()), parentID: hex(IDSequence.next()), flags: 0x01)
    }

    /// This hop's context: same trace id and flags, a new random span id.
    public func child() -> TraceContext {
        TraceContext(traceID: traceID, parentID: Self.hex(IDSequence.next()), flags: flags)
    }

    /// Whether the caller asked for the trace to be recorded (flag bit 0).
    public var isSampled: Bool { flags & 0x01 != 0 }

    /// The header value, `00-<trace>-<parent>-<flags>`.
    ///
    /// Always version 00, the one this type knows, even when it was parsed from a later version.
    public var traceparent: String {
        "00-" + traceID + "-" + parentID + "-" + Self.hex(flags)
    }

    // MARK: Hex

    /// `value` as lowercase hex, zero-padded to two digits a byte.
    private static func hex<Value: FixedWidthInteger & UnsignedInteger>(_ value: Value) -> String {
        let count = Value.bitWidth / 4
        return String(unsafeUninitializedCapacity: count) { buffer in
            for index in 0..<count {
                let nibble = UInt8(truncatingIfNeeded: value >> ((count - 1 - index) * 4)) & 0x0F
                buffer[index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            return count
        }
    }

    /// The value of a lowercase hex digit.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// The byte that the two lowercase hex digits at `index` spell.
    private static func hexByte(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt8? {
        guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
        return high << 4 | low
    }

    /// Whether `range` of `bytes` is lowercase hex with at least one digit other than `0`.
    private static func isNonZeroHex(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var isZero = true
        for index in range {
            guard hexValue(bytes[index]) != nil else { return false }
            if bytes[index] != UInt8(ascii: "0") { isZero = false }
        }
        return !isZero
    }
}

/// The ids this process gives out: SplitMix64 over one atomic counter, seeded once from the
/// system's generator.
///
/// Every request's span id comes from here. `SystemRandomNumberGenerator` costs a `getrandom`
/// system call per 64 bits (about 0.5 µs on the project's machines with glibc 2.36), several a
/// new trace; this is one relaxed atomic add and a few multiplications, shared by all threads
/// without a lock. SplitMix64's output function is a bijection of its counter, so the process
/// never repeats a span id in 2^64 of them, and ids of processes with different seeds overlap
/// only by chance of 2^-64 per pair. The ids are not secrets: they are sent to callers in the
/// clear, and the sequence is predictable to whoever sees one of them.
private enum IDSequence {
    /// SplitMix64's step, the golden ratio in 64 bits; odd, so the counter visits every value.
    private static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15

    private static let counter: Atomic<UInt64> = {
        var system = SystemRandomNumberGenerator()
        return Atomic(system.next())
    }()

    /// The next id, never zero.
    static func next() -> UInt64 {
        while true {
            var z = counter.wrappingAdd(gamma, ordering: .relaxed).newValue
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            // Only a counter value of zero maps to zero.
            if z != 0 { return z }
        }
    }
}
