/// A W3C Trace Context (`traceparent`): the trace a request belongs to and the span of this hop.
///
/// A caller's valid `traceparent` is continued with ``child()``; a missing or invalid one starts
/// a new trace with ``start()``, so a bad header never fails a request.
public struct TraceContext: Sendable, Hashable {
    /// The trace id: 32 lowercase hexadecimal digits, not all zero.
    public var traceID: String
    /// The span id of this hop (the header's `parent-id`): 16 lowercase hexadecimal digits, not
    /// all zero.
    public var parentID: String
    /// The trace flags; bit 0 is `sampled`.
    public var flags: UInt8

    /// Parses a `traceparent` header value, or returns `nil` when it is invalid.
    ///
    /// Version `00` must be exactly 55 characters; a later version (not `ff`) may be longer, with
    /// a `-` after the 55th character, and is read by version `00`'s fields.
    public init?(traceparent: String) {
        let bytes = Array(traceparent.utf8)
        guard bytes.count >= 55, bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-") else { return nil }
        guard let version = Self.hexValue(bytes[0..<2]), version != 0xff else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55, bytes[55] != UInt8(ascii: "-") {
            return nil
        }
        let trace = bytes[3..<35]
        let parent = bytes[36..<52]
        guard trace.allSatisfy(Self.isLowerHex), parent.allSatisfy(Self.isLowerHex),
              trace.contains(where: { $0 != UInt8(ascii: "0") }), parent.contains(where: { $0 != UInt8(ascii: "0") }),
              let flags = Self.hexValue(bytes[53..<55])
        else { return nil }
        self.traceID = String(decoding: trace, as: UTF8.self)
        self.parentID = String(decoding: parent, as: UTF8.self)
        self.flags = UInt8(flags)
    }

    /// A context with the given fields, which must be valid.
    init(traceID: String, parentID: String, flags: UInt8) {
        self.traceID = traceID
        self.parentID = parentID
        self.flags = flags
    }

    /// A new trace, sampled, with random ids.
    public static func start() -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return TraceContext(
            traceID: hex(high == 0 && low == 0 ? 1 : high) + hex(low), parentID: hex(nonZero(&generator)), flags: 0x01
        )
    }

    /// This hop's context in the same trace: the trace id and flags kept, a new span id.
    public func child() -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        return TraceContext(traceID: traceID, parentID: Self.hex(Self.nonZero(&generator)), flags: flags)
    }

    /// The header value: `00-<trace-id>-<parent-id>-<flags>`.
    public var traceparent: String {
        "00-" + traceID + "-" + parentID + "-" + Self.hex(byte: flags)
    }

    // MARK: Hexadecimal

    private static let digits = Array("0123456789abcdef".utf8)

    private static func nonZero(_ generator: inout SystemRandomNumberGenerator) -> UInt64 {
        while true {
            let value = generator.next() as UInt64
            if value != 0 { return value }
        }
    }

    /// 16 lowercase hexadecimal digits.
    static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = digits[Int((value >> (60 - 4 * UInt64(index))) & 0xf)]
            }
            return 16
        }
    }

    private static func hex(byte: UInt8) -> String {
        String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 0xf)]], as: UTF8.self)
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func hexValue(_ bytes: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in bytes {
            guard isLowerHex(byte) else { return nil }
            value = value * 16 + Int(byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : byte - UInt8(ascii: "a") + 10)
        }
        return value
    }
}
