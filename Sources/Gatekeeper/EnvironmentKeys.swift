import Foundation

/// An entry of `MODELHOST_API_KEYS` that cannot be used.
///
/// The message never repeats the entry's text, in case someone pasted a clear key there.
public struct EnvironmentKeysError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The entry's position among the `;`-separated entries, from 1 (empty entries count).
    public var entry: Int
    /// What is wrong with it.
    public var message: String

    /// Creates an error.
    public init(entry: Int, message: String) {
        self.entry = entry
        self.message = message
    }

    /// `MODELHOST_API_KEYS entry <n>: <message>`.
    public var description: String { "\(EnvironmentKeys.variableName) entry \(entry): \(message)" }
}

/// Keys given in the environment, for containers where mounting a keys file is awkward.
///
/// `MODELHOST_API_KEYS` holds entries separated by `;`, each `id:sha256:scopes[:models]`:
///
/// ```
/// MODELHOST_API_KEYS="k7f3q4x2abcd:9f86d081…0a08:infer+admin:echo+intent-classifier; q2w3e4r5t6y7:1b4f…:infer"
/// ```
///
/// - `id`: the key's 12-character id (`a-z`, `2-7`).
/// - `sha256`: the SHA-256 of the whole clear key, 64 hexadecimal characters (either case).
/// - `scopes`: one or more of `infer`, `admin`, joined by `+`.
/// - `models`: optional; model names joined by `+`. Absent means every model.
///
/// Whitespace around entries and fields is ignored, as are empty entries. Only hashes appear here,
/// never a key: `modelhost keys export-env --file FILE` prints the value for a keys file. Records
/// made from the environment are named `env:<id>`, date from `Date.distantPast`, and cannot be
/// revoked other than by removing them (and restarting), or by revoking the same id in the keys file.
public enum EnvironmentKeys {
    /// `MODELHOST_API_KEYS`.
    public static let variableName = "MODELHOST_API_KEYS"

    /// The records in `environment[MODELHOST_API_KEYS]`; none when it is unset.
    ///
    /// - Throws: ``EnvironmentKeysError`` for the first unusable entry.
    public static func records(
        in environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(EnvironmentKeysError) -> [KeyRecord] {
        guard let value = environment[variableName] else { return [] }
        return try parse(value)
    }

    /// Parses the value of `MODELHOST_API_KEYS`.
    ///
    /// - Returns: One record per non-empty entry, in order.
    /// - Throws: ``EnvironmentKeysError`` naming the first unusable entry and what is wrong with it.
    public static func parse(_ value: String) throws(EnvironmentKeysError) -> [KeyRecord] {
        var records: [KeyRecord] = []
        var seen: Set<String> = []
        for (offset, rawEntry) in value.split(separator: ";", omittingEmptySubsequences: false).enumerated() {
            let entry = rawEntry.trimmingCharacters(in: .whitespacesAndNewlines)
            if entry.isEmpty { continue }
            let record = try parseEntry(entry, number: offset + 1)
            guard seen.insert(record.id).inserted else {
                throw EnvironmentKeysError(entry: offset + 1, message: "duplicate id \(record.id)")
            }
            records.append(record)
        }
        return records
    }

    /// The entry that stands for `record`: `id:sha256:scopes[:models]`.
    public static func entry(for record: KeyRecord) -> String {
        var fields = [record.id, record.hash, record.scopes.sorted().map(\.name).joined(separator: "+")]
        if let models = record.models { fields.append(models.joined(separator: "+")) }
        return fields.joined(separator: ":")
    }

    private static func parseEntry(_ entry: String, number: Int) throws(EnvironmentKeysError) -> KeyRecord {
        func failure(_ message: String) -> EnvironmentKeysError { EnvironmentKeysError(entry: number, message: message) }

        if entry.hasPrefix(APIKey.prefix) || APIKey(parsing: entry) != nil {
            throw failure("looks like a clear API key; give id:sha256:scopes[:models] instead (modelhost keys export-env prints it), and treat that key as leaked")
        }
        let fields = entry.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard (3...4).contains(fields.count) else {
            throw failure("has \(fields.count) field\(fields.count == 1 ? "" : "s"); expected id:sha256:scopes[:models]")
        }
        let id = fields[0]
        guard APIKey.isValidID(id) else {
            throw failure("the id must be \(APIKey.idLength) characters of a-z and 2-7")
        }
        let hash = fields[1]
        guard KeyRecord.isValidHash(hash) else {
            throw failure("key \(id): the hash must be 64 hexadecimal characters (a SHA-256), not \(hash.count) characters")
        }
        var scopes: Set<KeyScope> = []
        for name in fields[2].split(separator: "+", omittingEmptySubsequences: false) {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard let scope = KeyScope(name: name) else {
                let allowed = KeyScope.all.map(\.name).joined(separator: ", ")
                throw failure(name.isEmpty ? "key \(id): a scope is empty (allowed: \(allowed))" : "key \(id): unknown scope \"\(name)\" (allowed: \(allowed))")
            }
            scopes.insert(scope)
        }
        var models: [String]?
        if fields.count == 4 {
            let names = fields[3].split(separator: "+", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if let problem = names.lazy.compactMap(KeyRecord.modelValidationFailure).first {
                throw failure("key \(id): \(problem)")
            }
            var seen: Set<String> = []
            models = names.filter { seen.insert($0).inserted }
        }
        return KeyRecord(id: id, name: "env:\(id)", hash: hash, scopes: scopes, models: models, createdAt: .distantPast)
    }
}
