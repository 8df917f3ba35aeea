import Logging

/// Hides the values of log metadata whose names look like they hold a secret.
///
/// A name looks secret when it contains, ignoring ASCII case, any of `authorization`, `x-api-key`,
/// `api_key`, `apikey`, `api-key`, `password`, `token`, `secret` or `cookie` — so `Authorization`,
/// `X-API-Key`, `accessToken`, `db_password` and `Set-Cookie` all do. The value is replaced whole,
/// whatever its type; only the name decides.
public enum SecretRedaction {
    /// What a secret value is replaced with.
    public static let placeholder = "[REDACTED]"

    /// The fragments that make a name secret, lowercase.
    static let fragments: [String] = [
        "authorization", "x-api-key", "api_key", "apikey", "api-key", "password", "token", "secret", "cookie",
    ]

    /// Whether `name` looks like it names a secret.
    public static func isSecret(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isSecret(bytes: $0) }
    }

    /// `isSecret` over a name's UTF-8 bytes, in one pass that allocates nothing (it runs for every
    /// metadata key of every line): at each byte, folded to lowercase, only the fragments that
    /// start with it are compared. `x-api-key` contains `api-key`, so it needs no check of its own.
    static func isSecret(bytes name: UnsafeBufferPointer<UInt8>) -> Bool {
        // No fragment is shorter than five bytes.
        guard name.count >= 5 else { return false }
        for start in 0...(name.count - 5) {
            switch lowercased(name[start]) {
            case UInt8(ascii: "a"):
                if matches(name, at: start, Self.authorization) { return true }
                if matches(name, at: start, Self.api) {
                    let next = start + 3
                    if matches(name, at: next, Self.key) { return true }
                    if next < name.count, name[next] == UInt8(ascii: "_") || name[next] == UInt8(ascii: "-"),
                        matches(name, at: next + 1, Self.key)
                    {
                        return true
                    }
                }
            case UInt8(ascii: "p"): if matches(name, at: start, Self.password) { return true }
            case UInt8(ascii: "t"): if matches(name, at: start, Self.token) { return true }
            case UInt8(ascii: "s"): if matches(name, at: start, Self.secret) { return true }
            case UInt8(ascii: "c"): if matches(name, at: start, Self.cookie) { return true }
            default: continue
            }
        }
        return false
    }

    private static let authorization = Array("authorization".utf8)
    private static let api = Array("api".utf8)
    private static let key = Array("key".utf8)
    private static let password = Array("password".utf8)
    private static let token = Array("token".utf8)
    private static let secret = Array("secret".utf8)
    private static let cookie = Array("cookie".utf8)

    /// Whether `name` holds `fragment` (lowercase) at `start`, ignoring ASCII case.
    @inline(__always)
    private static func matches(_ name: UnsafeBufferPointer<UInt8>, at start: Int, _ fragment: [UInt8]) -> Bool {
        guard name.count - start >= fragment.count else { return false }
        for offset in 0..<fragment.count where lowercased(name[start + offset]) != fragment[offset] {
            return false
        }
        return true
    }

    /// `metadata` with every secret-named value replaced by `placeholder`, at every depth:
    /// dictionaries are redacted by their keys, arrays element by element.
    public static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var redacted = metadata
        for (key, value) in metadata {
            if isSecret(key) {
                redacted[key] = .string(placeholder)
            } else if let inner = redact(value) {
                redacted[key] = inner
            }
        }
        return redacted
    }

    /// `value` with the secrets inside it redacted, or `nil` when it holds nothing to redact.
    private static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value? {
        switch value {
        case .string, .stringConvertible:
            return nil
        case .dictionary(let dictionary):
            return .dictionary(redact(dictionary))
        case .array(let elements):
            return .array(elements.map { redact($0) ?? $0 })
        }
    }

    /// `byte` with an ASCII capital letter made small.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }
}
