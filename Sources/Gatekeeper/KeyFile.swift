import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A keys file that cannot be read, parsed, written or changed as asked.
public struct KeyFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable category of failure. New codes may be added; match on the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable machine-readable spelling.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The file does not exist.
        public static let notFound = Code("not_found")
        /// The file exists but could not be read or written.
        public static let io = Code("io")
        /// The file's content is not a valid keys file.
        public static let invalid = Code("invalid")
        /// No key in the file has the id given.
        public static let unknownID = Code("unknown_id")
        /// A value given to create a key is unusable (empty name, no scopes, a bad model name).
        public static let invalidArgument = Code("invalid_argument")

        /// The code's stable spelling.
        public var description: String { rawValue }
    }

    /// The category of the failure.
    public var code: Code
    /// The keys file's path, as given.
    public var path: String
    /// What is wrong, and where in the file when it is about the content.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `<path>: <message>`.
    public var description: String { "\(path): \(message)" }
}

/// A keys file: the API keys a server accepts, as SHA-256 hashes, never in the clear.
///
/// The file is JSON, written with sorted keys and indentation so that it diffs well:
///
/// ```json
/// {
///   "keys" : [ { "id" : "k7f3q4x2abcd", "name" : "dev", "hash" : "…64 hex…", "scopes" : ["infer"],
///                "models" : null, "rateLimit" : null,
///                "createdAt" : "2025-01-31T09:30:00Z", "revokedAt" : null } ],
///   "version" : 1
/// }
/// ```
///
/// See ``KeyRecord`` for the fields. Reading is strict: an unknown key anywhere, a missing field,
/// a malformed id or hash, an unknown scope or a duplicate id is an error naming the file and the
/// JSON path. Saving writes a temporary file beside it, syncs it to disk and renames it over the old
/// one, mode `0600`, so a reader (``KeyFileMonitor``) sees the old file or the new, never half of one.
///
/// `KeyFile` is a value: ``create(name:scopes:models:rateLimit:now:)`` and ``revoke(id:now:)``
/// change it in memory and ``save()`` writes it. ``update(at:createIfMissing:_:)`` does all three
/// under a lock, for tools that change the file.
public struct KeyFile: Sendable {
    /// The format version this code reads and writes.
    public static let currentVersion = 1

    /// The file's path.
    public let path: String

    /// The keys, in creation order, revoked ones included.
    public private(set) var records: [KeyRecord]

    /// Creates a keys file value, not yet saved.
    public init(path: String, records: [KeyRecord] = []) {
        self.path = path
        self.records = records
    }

    /// Reads and checks the keys file at `path`.
    ///
    /// - Parameters:
    ///   - path: The file.
    ///   - allowMissing: When `true`, a missing file reads as one with no keys.
    /// - Throws: ``KeyFileError`` with ``KeyFileError/Code/notFound``, ``KeyFileError/Code/io`` or
    ///   ``KeyFileError/Code/invalid``.
    public static func load(from path: String, allowMissing: Bool = false) throws(KeyFileError) -> KeyFile {
        let data: Data
        do throws(KeyFileError) {
            data = try KeyFileIO.readFile(path).data
        } catch where error.code == .notFound && allowMissing {
            return KeyFile(path: path)
        }
        return KeyFile(path: path, records: try decode(data, path: path))
    }

    /// Decodes a keys file's bytes.
    ///
    /// - Parameters:
    ///   - data: The file's content.
    ///   - path: The file's path, for error messages.
    /// - Returns: The records, in file order.
    /// - Throws: ``KeyFileError`` with ``KeyFileError/Code/invalid``, naming the JSON path at fault.
    public static func decode(_ data: Data, path: String) throws(KeyFileError) -> [KeyRecord] {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: data)
        } catch let error as DecodingError {
            throw KeyFileError(.invalid, path: path, message: describe(error))
        } catch {
            throw KeyFileError(.invalid, path: path, message: "\(error)")
        }
        var seen: Set<String> = []
        for (index, record) in document.keys.enumerated() where !seen.insert(record.id).inserted {
            throw KeyFileError(.invalid, path: path, message: "keys[\(index)].id: duplicate id \(record.id)")
        }
        return document.keys
    }

    /// The file's content as it would be saved.
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and arrays cannot fail.
        let data = try! encoder.encode(Document(version: Self.currentVersion, keys: records))
        return data + Data("\n".utf8)
    }

    /// Writes the file atomically with mode `0600`: a temporary file in the same directory, synced,
    /// then renamed over `path`, then the directory synced.
    ///
    /// A symbolic link at `path` is replaced by a regular file.
    ///
    /// - Throws: ``KeyFileError`` with ``KeyFileError/Code/io``.
    public func save() throws(KeyFileError) {
        try KeyFileIO.writeAtomically(encoded(), to: path, mode: 0o600)
    }

    /// The record with `id`, revoked or not.
    public func record(id: String) -> KeyRecord? {
        records.first { $0.id == id }
    }

    /// Creates a key and appends its record. Only the key's hash is kept; the clear key is returned
    /// to be shown once and is not recoverable afterwards.
    ///
    /// - Parameters:
    ///   - name: Who or what uses the key: 1 to 128 characters, no control characters.
    ///   - scopes: What the key may do; at least one.
    ///   - models: The models the key may call, or `nil` for all; when given, at least one. Duplicates
    ///     are dropped.
    ///   - rateLimit: The key's own rate limit, or `nil` for the server's default.
    ///   - now: The creation time; kept in whole seconds, as the file stores it.
    /// - Returns: The new key, and its record as now held in ``records``.
    /// - Throws: ``KeyFileError`` with ``KeyFileError/Code/invalidArgument``.
    public mutating func create(
        name: String,
        scopes: Set<KeyScope>,
        models: [String]? = nil,
        rateLimit: KeyRateLimit? = nil,
        now: Date
    ) throws(KeyFileError) -> (key: APIKey, record: KeyRecord) {
        if let failure = KeyRecord.nameValidationFailure(name) { throw invalidArgument(failure) }
        if scopes.isEmpty { throw invalidArgument("give at least one scope (\(KeyScope.all.map(\.name).joined(separator: ", ")))") }
        var uniqueModels: [String]?
        if let models {
            if models.isEmpty { throw invalidArgument("give at least one model, or none to allow every model") }
            if let failure = models.lazy.compactMap(KeyRecord.modelValidationFailure).first { throw invalidArgument(failure) }
            var seen: Set<String> = []
            uniqueModels = models.filter { seen.insert($0).inserted }
        }
        if let failure = rateLimit?.validationFailure { throw invalidArgument("rate limit: \(failure)") }

        let ids = Set(records.map(\.id))
        var key = APIKey.generate()
        while ids.contains(key.id) { key = APIKey.generate() }
        let record = KeyRecord(
            id: key.id,
            name: name,
            hash: key.hash,
            scopes: scopes,
            models: uniqueModels,
            rateLimit: rateLimit,
            createdAt: Self.wholeSeconds(now)
        )
        records.append(record)
        return (key, record)
    }

    /// Revokes the key with `id`.
    ///
    /// Revoking is idempotent: a key already revoked keeps its first revocation time and no error
    /// is thrown; compare the returned record's ``KeyRecord/revokedAt`` with `now` to tell.
    ///
    /// - Parameters:
    ///   - id: The key's id.
    ///   - now: The revocation time; kept in whole seconds.
    /// - Returns: The record as now held in ``records``.
    /// - Throws: ``KeyFileError`` with ``KeyFileError/Code/unknownID`` when no key has `id`.
    @discardableResult
    public mutating func revoke(id: String, now: Date) throws(KeyFileError) -> KeyRecord {
        guard let index = records.firstIndex(where: { $0.id == id }) else {
            throw KeyFileError(.unknownID, path: path, message: "no key has id \(id)")
        }
        if records[index].revokedAt == nil {
            records[index].revokedAt = Self.wholeSeconds(now)
        }
        return records[index]
    }

    /// Loads the file, lets `body` change it, and saves it if `body` returns, all under an exclusive
    /// lock on `<path>.lock`, so that two tools changing the file at once do not lose each other's
    /// changes.
    ///
    /// The lock file is left in place; the server never takes the lock (it only reads, and saving
    /// is atomic).
    ///
    /// - Parameters:
    ///   - path: The keys file.
    ///   - createIfMissing: When `true`, a missing file starts empty and is created on save.
    ///   - body: Changes the file; if it throws, nothing is saved.
    /// - Returns: What `body` returns.
    /// - Throws: ``KeyFileError`` from loading, `body` or saving.
    @discardableResult
    public static func update<Result>(
        at path: String,
        createIfMissing: Bool = false,
        _ body: (inout KeyFile) throws(KeyFileError) -> Result
    ) throws(KeyFileError) -> Result {
        try KeyFileIO.withExclusiveLock(path: path + ".lock") { () throws(KeyFileError) -> Result in
            var file = try load(from: path, allowMissing: createIfMissing)
            let result = try body(&file)
            try file.save()
            return result
        }
    }

    private func invalidArgument(_ message: String) -> KeyFileError {
        KeyFileError(.invalidArgument, path: path, message: message)
    }

    private static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }

    /// The file's top level.
    private struct Document: Codable {
        var version: Int
        var keys: [KeyRecord]

        enum CodingKeys: String, CodingKey, CaseIterable {
            case version, keys
        }

        init(version: Int, keys: [KeyRecord]) {
            self.version = version
            self.keys = keys
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
            version = try container.decode(Int.self, forKey: .version)
            guard version == KeyFile.currentVersion else {
                throw container.invalid(.version, "version \(version) is not supported (this modelhost reads version \(KeyFile.currentVersion))")
            }
            keys = try container.decode([KeyRecord].self, forKey: .keys)
        }
    }

    /// A decoding failure as `<json path>: <problem>`.
    private static func describe(_ error: DecodingError) -> String {
        let problem = DecodingProblem(error)
        return "\(problem.path): \(problem.message)"
    }
}
