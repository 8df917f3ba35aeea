import Foundation
import ModelHostCore

/// What a key may do.
///
/// Scopes are independent: `admin` does not imply `infer`. Stored as their names, `"infer"` and
/// `"admin"`. New scopes may be added; match on the static members.
public struct KeyScope: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    private enum Base: String, Sendable, Hashable, CaseIterable {
        case infer
        case admin
    }

    private let base: Base

    private init(_ base: Base) { self.base = base }

    /// Inference and model metadata: `POST /v2/models/{name}/infer` and the `GET` model routes.
    public static let infer = KeyScope(.infer)
    /// Repository and other control routes: loading, unloading, reloading models.
    public static let admin = KeyScope(.admin)

    /// Every scope, in name order.
    public static var all: [KeyScope] { Base.allCases.map(KeyScope.init).sorted() }

    /// The scope named `name` (`"infer"`, `"admin"`), or `nil` for an unknown name.
    public init?(name: String) {
        guard let base = Base(rawValue: name) else { return nil }
        self.base = base
    }

    /// The scope's stable name, as stored and shown.
    public var name: String { base.rawValue }

    /// The scope's name.
    public var description: String { name }

    /// Orders scopes by name, for stable output.
    public static func < (lhs: KeyScope, rhs: KeyScope) -> Bool { lhs.name < rhs.name }

    /// Decodes a scope from its name.
    ///
    /// - Throws: `DecodingError.dataCorrupted` for an unknown name, listing the known ones.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let scope = KeyScope(name: name) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "unknown scope \"\(name)\" (allowed: \(Self.all.map(\.name).joined(separator: ", ")))"
            )
        }
        self = scope
    }

    /// Encodes the scope as its name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// A key's own rate limit: on average `requests` per `windowSeconds`, with up to `burst` requests
/// at once.
///
/// In the keys file: `{"requests": 100, "windowSeconds": 60, "burst": 20}`; `burst` may be left out
/// and then equals `requests` (the whole window's allowance may arrive at once). Every value is at
/// least 1; the window is at most ``maximumWindowSeconds`` (366 days) and the burst at most
/// ``maximumBurst``, the bounds of ``RateLimit``, so every valid value converts to one. The limiter enforcing it is generic cell rate (GCRA): one request every
/// `windowSeconds / requests`, with a tolerance of `burst - 1` such intervals.
public struct KeyRateLimit: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Requests allowed per window, on average.
    public var requests: Int
    /// The window, in seconds.
    public var windowSeconds: Int
    /// Requests allowed back to back before the average applies.
    public var burst: Int

    /// The longest window: 366 days.
    public static let maximumWindowSeconds = 366 * 86_400
    /// The largest burst.
    public static let maximumBurst = 1_000_000_000

    /// Creates a limit.
    ///
    /// - Parameters:
    ///   - requests: Requests per window, at least 1.
    ///   - windowSeconds: The window in seconds, at least 1.
    ///   - burst: Requests allowed at once, at least 1; `nil` means `requests`.
    public init(requests: Int, windowSeconds: Int, burst: Int? = nil) {
        self.requests = requests
        self.windowSeconds = windowSeconds
        self.burst = burst ?? requests
    }

    /// Parses `100/minute`, `10/s`, `5000/hour`, `100/30s`, `1000/5m`, `20000/day`.
    ///
    /// Units: `s`, `sec`, `second`, `m`, `min`, `minute`, `h`, `hour`, `d`, `day` (plurals too), each
    /// optionally preceded by a count.
    ///
    /// - Parameters:
    ///   - text: The limit as written on a command line.
    ///   - burst: Requests allowed at once; `nil` means the same as the request count.
    /// - Returns: `nil` when `text` is not a limit or a value is below 1.
    public init?(parsing text: String, burst: Int? = nil) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let requests = Int(parts[0].trimmingCharacters(in: .whitespaces)) else { return nil }
        let window = parts[1].trimmingCharacters(in: .whitespaces).lowercased()
        let digits = window.prefix(while: \.isASCII).prefix(while: \.isNumber)
        let count = digits.isEmpty ? 1 : Int(digits)
        let unit = String(window.dropFirst(digits.count))
        let seconds: Int? =
            switch unit {
            case "s", "sec", "secs", "second", "seconds": 1
            case "m", "min", "mins", "minute", "minutes": 60
            case "h", "hr", "hour", "hours": 3600
            case "d", "day", "days": 86_400
            default: nil
            }
        guard let count, let seconds, count <= Int.max / seconds else { return nil }
        self.init(requests: requests, windowSeconds: count * seconds, burst: burst)
        guard validationFailure == nil else { return nil }
    }

    /// The window as a `Duration`.
    public var window: Duration { .seconds(windowSeconds) }

    /// What is wrong with the limit, or `nil` when it is valid: every value at least 1, the window
    /// at most ``maximumWindowSeconds``, the burst at most ``maximumBurst``.
    public var validationFailure: String? {
        if requests < 1 { return "requests must be at least 1" }
        if let failure = Self.windowFailure(windowSeconds) { return "windowSeconds \(failure)" }
        if let failure = Self.burstFailure(burst) { return "burst \(failure)" }
        return nil
    }

    private static func windowFailure(_ seconds: Int) -> String? {
        (1...maximumWindowSeconds).contains(seconds) ? nil : "must be between 1 and \(maximumWindowSeconds) (366 days)"
    }

    private static func burstFailure(_ burst: Int) -> String? {
        (1...maximumBurst).contains(burst) ? nil : "must be between 1 and \(maximumBurst)"
    }

    /// `100/60s burst 20`.
    public var description: String { "\(requests)/\(windowSeconds)s burst \(burst)" }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case requests, windowSeconds, burst
    }

    /// Decodes a limit, refusing unknown keys and values below 1.
    ///
    /// - Throws: `DecodingError` naming the offending key.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let requests = try container.decode(Int.self, forKey: .requests)
        let windowSeconds = try container.decode(Int.self, forKey: .windowSeconds)
        let burst = try container.decodeIfPresent(Int.self, forKey: .burst)
        self.init(requests: requests, windowSeconds: windowSeconds, burst: burst)
        if requests < 1 { throw container.invalid(.requests, "must be at least 1") }
        if let failure = Self.windowFailure(windowSeconds) { throw container.invalid(.windowSeconds, failure) }
        if let failure = Self.burstFailure(self.burst) {
            throw container.invalid(burst == nil ? .requests : .burst, burst == nil ? "(the burst when none is given) \(failure)" : failure)
        }
    }
}

/// One API key as the server knows it: never the key itself, only its SHA-256.
///
/// In the keys file:
///
/// ```json
/// {
///   "id": "k7f3q4x2abcd",
///   "name": "billing-service",
///   "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
///   "scopes": ["infer"],
///   "models": ["echo", "intent-classifier"],
///   "rateLimit": {"requests": 100, "windowSeconds": 60, "burst": 20},
///   "createdAt": "2025-01-31T09:30:00Z",
///   "revokedAt": null
/// }
/// ```
///
/// `models` and `rateLimit` may be absent or `null`. Dates are ISO 8601 in UTC, whole seconds
/// (fractional seconds are accepted when reading).
public struct KeyRecord: Sendable, Hashable, Codable {
    /// The key's id, the 12-character middle part of the key; safe to log.
    public var id: String
    /// A name for people: who or what uses the key.
    public var name: String
    /// The SHA-256 of the whole clear key, 64 lowercase hexadecimal characters.
    public var hash: String
    /// What the key may do.
    public var scopes: Set<KeyScope>
    /// The models the key may call; `nil` means every model, an empty list none.
    public var models: [String]?
    /// The key's own rate limit; `nil` means the server's default.
    public var rateLimit: KeyRateLimit?
    /// When the key was created.
    public var createdAt: Date
    /// When the key was revoked; `nil` while it is valid.
    public var revokedAt: Date?

    /// Creates a record. `hash` is lowercased.
    public init(
        id: String,
        name: String,
        hash: String,
        scopes: Set<KeyScope>,
        models: [String]? = nil,
        rateLimit: KeyRateLimit? = nil,
        createdAt: Date,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.hash = hash.lowercased()
        self.scopes = scopes
        self.models = models
        self.rateLimit = rateLimit
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Whether the key has been revoked.
    public var isRevoked: Bool { revokedAt != nil }

    /// Whether the key holds `scope`.
    public func permits(_ scope: KeyScope) -> Bool { scopes.contains(scope) }

    /// Whether the key may call the model named `model`.
    public func permits(model: String) -> Bool { models?.contains(model) ?? true }

    /// Whether `hash` is 64 hexadecimal characters (either case).
    public static func isValidHash(_ hash: String) -> Bool {
        hash.utf8.count == 64 && hash.utf8.allSatisfy { $0 < 0x80 && Character(Unicode.Scalar($0)).isHexDigit }
    }

    /// What is wrong with `name` for a key, or `nil` when it is fine: 1 to 128 characters, no
    /// control characters (names appear in logs, one line per event).
    public static func nameValidationFailure(_ name: String) -> String? {
        if name.isEmpty { return "the name is empty" }
        if name.count > 128 { return "the name is longer than 128 characters" }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "the name contains a control character"
        }
        return nil
    }

    /// What is wrong with `model` as an entry of ``models``, or `nil` when it is fine: not empty,
    /// no whitespace, control characters, `,`, `+`, `:` or `;` (the separators of the CLI and of
    /// `MODELHOST_API_KEYS`).
    public static func modelValidationFailure(_ model: String) -> String? {
        if model.isEmpty { return "a model name is empty" }
        if model.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.properties.generalCategory == .control || ",+:;".unicodeScalars.contains($0) }) {
            return "model name \"\(model)\" contains whitespace or one of , + : ;"
        }
        return nil
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case id, name, hash, scopes, models, rateLimit, createdAt, revokedAt
    }

    /// Decodes a record, refusing unknown keys and malformed values.
    ///
    /// - Throws: `DecodingError` naming the offending key.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        guard APIKey.isValidID(id) else {
            throw container.invalid(.id, "must be \(APIKey.idLength) characters of a-z and 2-7")
        }
        name = try container.decode(String.self, forKey: .name)
        if let failure = Self.nameValidationFailure(name) { throw container.invalid(.name, failure) }
        let hash = try container.decode(String.self, forKey: .hash)
        guard Self.isValidHash(hash) else { throw container.invalid(.hash, "must be 64 hexadecimal characters (a SHA-256)") }
        self.hash = hash.lowercased()
        let scopes = try container.decode([KeyScope].self, forKey: .scopes)
        guard !scopes.isEmpty else { throw container.invalid(.scopes, "must name at least one scope") }
        self.scopes = Set(scopes)
        models = try container.decodeIfPresent([String].self, forKey: .models)
        if let failure = models?.lazy.compactMap(Self.modelValidationFailure).first {
            throw container.invalid(.models, failure)
        }
        rateLimit = try container.decodeIfPresent(KeyRateLimit.self, forKey: .rateLimit)
        createdAt = try container.decodeKeyFileDate(forKey: .createdAt)
        if container.contains(.revokedAt), try !container.decodeNil(forKey: .revokedAt) {
            revokedAt = try container.decodeKeyFileDate(forKey: .revokedAt)
        } else {
            revokedAt = nil
        }
    }

    /// Encodes the record; scopes in name order, dates as ISO 8601 in whole seconds.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(hash, forKey: .hash)
        try container.encode(scopes.sorted(), forKey: .scopes)
        try container.encode(models, forKey: .models)
        try container.encode(rateLimit, forKey: .rateLimit)
        try container.encode(Self.format(createdAt), forKey: .createdAt)
        try container.encode(revokedAt.map(Self.format), forKey: .revokedAt)
    }

    /// `2025-01-31T09:30:00Z`.
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}

extension KeyedDecodingContainer {
    /// Decodes an ISO 8601 date string, with or without fractional seconds.
    func decodeKeyFileDate(forKey key: Key) throws -> Date {
        let text = try decode(String.self, forKey: key)
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        throw invalid(key, "must be an ISO 8601 date such as 2025-01-31T09:30:00Z")
    }
}
