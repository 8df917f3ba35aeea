/// The outcome of checking a presented API key against a ``KeyRing``.
public enum Authentication: Sendable, Hashable {
    /// The key is known, its secret matches and it is not revoked.
    case authenticated(KeyRecord)
    /// The text is not a key: wrong length, prefix, alphabet or checksum. Nothing was looked up.
    case malformed
    /// A well-formed key that the ring does not hold, or whose secret does not match the stored
    /// hash. The two are deliberately not told apart, so a caller cannot learn which ids exist.
    case unknown
    /// The key matched a record that has been revoked. Reported only when the secret matches.
    case revoked(id: String)
}

/// The immutable set of keys the server checks requests against.
///
/// Build a new ring whenever the keys change (``KeyFileMonitor`` says when) and swap it in;
/// a ring is `Sendable` and lookups take no lock.
///
/// Checking a key: parse it (format and checksum, ``APIKey/init(parsing:)``), compute its SHA-256,
/// find the records with its id, compare the hashes in constant time, then check revocation.
/// The hash is computed, and one comparison made, even when the id is unknown, so that unknown ids
/// and wrong secrets take the same time.
///
/// When several records share an id (the keys file and `MODELHOST_API_KEYS` both naming a key),
/// a matching revoked record wins: revoking a key anywhere revokes it.
public struct KeyRing: Sendable {
    /// Every record, in the order given.
    public let records: [KeyRecord]

    private let recordsByID: [String: [KeyRecord]]

    /// Creates a ring holding `records`.
    public init(records: [KeyRecord]) {
        self.records = records
        self.recordsByID = Dictionary(grouping: records, by: \.id)
    }

    /// The number of records, revoked ones included.
    public var count: Int { records.count }

    /// Whether the ring holds no records at all.
    public var isEmpty: Bool { records.isEmpty }

    /// The first record with `id`, revoked or not.
    public func record(id: String) -> KeyRecord? {
        recordsByID[id]?.first
    }

    /// Checks a presented key.
    ///
    /// - Parameter presented: The credential from the request, as ``credential(fromHeaders:authorization:)``
    ///   returns it.
    /// - Returns: The record on success, or why the key was refused.
    public func authenticate(_ presented: String) -> Authentication {
        guard let key = APIKey(parsing: presented) else { return .malformed }
        let presentedHash = key.hash
        guard let candidates = recordsByID[key.id] else {
            // Do the work a known id would cost, so timing does not reveal which ids exist.
            _ = Self.constantTimeEquals(presentedHash, Self.decoyHash)
            return .unknown
        }
        var match: KeyRecord?
        var isRevoked = false
        for candidate in candidates where Self.constantTimeEquals(candidate.hash, presentedHash) {
            if candidate.isRevoked {
                isRevoked = true
            } else if match == nil {
                match = candidate
            }
        }
        if isRevoked { return .revoked(id: key.id) }
        if let match { return .authenticated(match) }
        return .unknown
    }

    /// Compares two strings in time that depends only on their lengths.
    ///
    /// Every byte pair is XORed into an accumulator and the result tested once at the end; there is
    /// no early exit on the first difference. Strings of different lengths compare unequal at once
    /// (a length is not a secret: every stored hash is 64 characters).
    @inline(never)
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                guard left.count == right.count else { return false }
                var difference: UInt8 = 0
                for index in 0..<left.count {
                    difference |= left[index] ^ right[index]
                }
                return difference == 0
            }
        }
    }

    /// The credential a request carries, from its `X-API-Key` or `Authorization` header.
    ///
    /// - `X-API-Key: <key>`: the value, with surrounding spaces and tabs removed.
    /// - `Authorization: Bearer <key>`: the scheme in any case, then one or more spaces or tabs, then
    ///   a token with no whitespace in it. Any other scheme yields nothing.
    ///
    /// When both headers are present, `X-API-Key` wins. An empty or all-whitespace `X-API-Key`
    /// counts as absent. The credential is returned as sent; ``authenticate(_:)`` checks its format.
    ///
    /// - Parameters:
    ///   - xAPIKey: The value of the `X-API-Key` header, if any.
    ///   - authorization: The value of the `Authorization` header, if any.
    /// - Returns: The credential, or `nil` when the request carries none.
    public static func credential(fromHeaders xAPIKey: String?, authorization: String?) -> String? {
        if let xAPIKey {
            let value = trimmed(Substring(xAPIKey))
            if !value.isEmpty { return String(value) }
        }
        guard let authorization else { return nil }
        let value = trimmed(Substring(authorization))
        guard let separator = value.firstIndex(where: isSpaceOrTab) else { return nil }
        guard value[..<separator].lowercased() == "bearer" else { return nil }
        let token = value[separator...].drop(while: isSpaceOrTab)
        guard !token.isEmpty, !token.contains(where: isSpaceOrTab) else { return nil }
        return String(token)
    }

    /// A well-formed hash no key has (the SHA-256 of nothing would do too; this one is obviously fake).
    private static let decoyHash = String(repeating: "0", count: 64)

    private static func isSpaceOrTab(_ character: Character) -> Bool {
        character == " " || character == "\t"
    }

    /// `text` without leading and trailing spaces and tabs.
    private static func trimmed(_ text: Substring) -> Substring {
        let start = text.drop(while: isSpaceOrTab)
        var end = start.endIndex
        while end > start.startIndex, isSpaceOrTab(start[start.index(before: end)]) {
            end = start.index(before: end)
        }
        return start[..<end]
    }
}
