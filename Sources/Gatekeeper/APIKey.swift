import ModelHostCore

/// An API key in its clear form: `mh_<id>_<secret><checksum>`.
///
/// The text is 54 ASCII characters:
///
/// | part       | length | alphabet                     | content                                   |
/// |------------|--------|------------------------------|-------------------------------------------|
/// | `mh_`      | 3      |                              | the prefix, so that people and scanners recognise a key |
/// | id         | 12     | `a-z2-7` (base32, lowercase) | 60 random bits; names the key in logs and tools |
/// | `_`        | 1      |                              |                                           |
/// | secret     | 32     | `0-9A-Za-z` (base62)         | about 190 random bits                     |
/// | checksum   | 6      | `0-9A-Za-z` (base62)         | CRC-32 of the 48 characters before it, big-endian digits, zero-padded |
///
/// A scanner matches `mh_[a-z2-7]{12}_[0-9A-Za-z]{38}` and confirms a hit with the checksum.
///
/// The server stores only ``hash``, the SHA-256 of the whole text. The clear text is shown to its
/// owner once, at creation, through ``reveal()``; `description`, `debugDescription` and the
/// reflection used by `dump` show only `mh_<id>_…`, so interpolating a key into a log line never
/// leaks its secret.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The prefix every key starts with.
    public static let prefix = "mh_"
    /// The number of characters in a key id.
    public static let idLength = 12
    /// The number of characters in the secret part.
    public static let secretLength = 32
    /// The number of characters in the checksum.
    public static let checksumLength = 6
    /// The number of characters in a whole key.
    public static let length = 3 + idLength + 1 + secretLength + checksumLength

    /// The key's id: 12 lowercase base32 characters, safe to log and show.
    public let id: String

    /// The whole clear key. Never logged; see ``reveal()``.
    private let text: String

    /// Parses and checks a presented key without looking anything up.
    ///
    /// Checks the length, the prefix, the alphabet of every part and the checksum. Parsing compares
    /// the text with nothing secret, so its timing tells a caller nothing about stored keys.
    ///
    /// - Parameter text: The key as presented, with no surrounding whitespace.
    /// - Returns: `nil` when `text` is not a well-formed key.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == Self.length else { return nil }
        var isValid = bytes[0] == UInt8(ascii: "m") && bytes[1] == UInt8(ascii: "h") && bytes[2] == UInt8(ascii: "_")
        for byte in bytes[Self.idRange] { isValid = isValid && Self.isBase32(byte) }
        isValid = isValid && bytes[Self.idRange.upperBound] == UInt8(ascii: "_")
        for byte in bytes[Self.secretRange] { isValid = isValid && Self.isBase62(byte) }
        let checksum = Self.checksum(of: bytes[..<Self.secretRange.upperBound])
        isValid = isValid && bytes[Self.secretRange.upperBound...].elementsEqual(checksum)
        guard isValid else { return nil }
        self.id = String(decoding: bytes[Self.idRange], as: UTF8.self)
        self.text = text
    }

    /// Builds a key from its id and secret, computing the checksum. Both must be well-formed.
    init(id: String, secret: String) {
        precondition(Self.isValidID(id), "not a key id")
        precondition(secret.utf8.count == Self.secretLength && secret.utf8.allSatisfy(Self.isBase62), "not a key secret")
        let body = Array((Self.prefix + id + "_" + secret).utf8)
        self.id = id
        self.text = String(decoding: body + Self.checksum(of: body[...]), as: UTF8.self)
    }

    /// Generates a new key from the system's secure random source (`getrandom` on Linux).
    public static func generate() -> APIKey {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// Generates a new key from `generator`.
    ///
    /// Only a cryptographically secure generator, such as `SystemRandomNumberGenerator`, makes a key
    /// fit for use; other generators are for tests.
    public static func generate<Generator: RandomNumberGenerator>(using generator: inout Generator) -> APIKey {
        let id = generateID(using: &generator)
        var secret: [UInt8] = []
        secret.reserveCapacity(secretLength)
        for _ in 0..<secretLength {
            // `next(upperBound:)` rejects out-of-range draws, so every symbol is equally likely.
            secret.append(base62Alphabet[Int(generator.next(upperBound: UInt64(base62Alphabet.count)))])
        }
        return APIKey(id: id, secret: String(decoding: secret, as: UTF8.self))
    }

    /// Generates a key id: 60 random bits as 12 lowercase base32 characters.
    static func generateID<Generator: RandomNumberGenerator>(using generator: inout Generator) -> String {
        var bits: UInt64 = generator.next()
        var id: [UInt8] = []
        id.reserveCapacity(idLength)
        for _ in 0..<idLength {
            id.append(base32Alphabet[Int(bits & 0x1F)])
            bits >>= 5
        }
        return String(decoding: id, as: UTF8.self)
    }

    /// The SHA-256 of the whole key text, as 64 lowercase hexadecimal characters: what a keys file
    /// and `MODELHOST_API_KEYS` store.
    public var hash: String {
        SHA256.hexDigest(of: text.utf8)
    }

    /// The clear key, to show to its owner once, at creation. Never log it.
    public func reveal() -> String {
        text
    }

    /// Whether `id` is a well-formed key id (12 characters of `a-z2-7`).
    public static func isValidID(_ id: String) -> Bool {
        id.utf8.count == idLength && id.utf8.allSatisfy(isBase32)
    }

    /// `mh_<id>_…`: names the key without its secret.
    public var description: String {
        "\(Self.prefix)\(id)_…"
    }

    /// The same as ``description``: the secret is never shown.
    public var debugDescription: String {
        "APIKey(\(description))"
    }

    /// A mirror with the id alone, so that `dump` and reflection never see the secret.
    public var customMirror: Mirror {
        Mirror(self, children: ["id": id], displayStyle: .struct)
    }

    // MARK: Alphabets and checksum

    private static let idRange = 3..<(3 + idLength)
    private static let secretRange = (idRange.upperBound + 1)..<(idRange.upperBound + 1 + secretLength)

    /// RFC 4648 base32, lowercase: no `0`, `1`, `8`, `9`, so ids are easy to read aloud.
    private static let base32Alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    /// Digits, then upper case, then lower case.
    private static let base62Alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    private static func isBase32(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains(byte)
    }

    private static func isBase62(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    /// The CRC-32 of `body` as 6 base62 digits, most significant first (62⁶ > 2³²).
    private static func checksum(of body: ArraySlice<UInt8>) -> [UInt8] {
        var value = CRC32.checksum(body)
        var digits = [UInt8](repeating: base62Alphabet[0], count: checksumLength)
        for index in stride(from: checksumLength - 1, through: 0, by: -1) {
            digits[index] = base62Alphabet[Int(value % 62)]
            value /= 62
        }
        return digits
    }
}
