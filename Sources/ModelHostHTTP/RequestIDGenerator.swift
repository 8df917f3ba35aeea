import Synchronization

/// Gives every request an id: the caller's `X-Request-ID` when it is a sensible one, else a new
/// one, unique within the process and cheap to make.
final class RequestIDGenerator: Sendable {
    /// The longest caller id kept.
    static let maxLength = 128

    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        prefix = String(UInt32.random(in: .min ... .max), radix: 16)
    }

    /// `offered` if it is 1 to 128 characters of letters, digits and `-_.:/+=`; else a new id.
    func id(from offered: String?) -> String {
        if let offered, Self.isAcceptable(offered) { return offered }
        let next = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(next, radix: 16)
    }

    private static func isAcceptable(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
            case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "+"), UInt8(ascii: "="): true
            default: false
            }
        }
    }
}
