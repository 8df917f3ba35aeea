import ArgumentParser
import Foundation
import Gatekeeper

/// `modelhost keys`: create, list and revoke API keys in a keys file.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys in a keys file.",
        discussion: """
            The keys file holds only SHA-256 hashes of keys. A running server rereads it when it \
            changes, so a key can be rotated without a restart: create the new key, move clients \
            to it, then revoke the old one.
            """,
        subcommands: [Create.self, List.self, Revoke.self, ExportEnv.self]
    )

    /// `modelhost keys create`: make a key, save its hash, print the key once.
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once on standard output.",
            discussion: "The key is not stored and cannot be shown again; only its hash is saved. The file is created (mode 0600) if it does not exist."
        )

        @Option(name: .long, help: "The keys file.")
        var file: String

        @Option(name: .long, help: "Who or what uses the key.")
        var name: String

        @Option(name: .long, parsing: .singleValue, help: "Scopes, comma-separated or repeated: infer (inference and model metadata), admin (control routes).")
        var scope: [String]

        @Option(name: .long, parsing: .singleValue, help: "Models the key may call, comma-separated or repeated (default: all).")
        var models: [String] = []

        @Option(name: .long, help: "The key's own rate limit, such as 100/minute, 10/s or 1000/5m (default: the server's).")
        var rateLimit: String?

        @Option(name: .long, help: "Requests allowed at once under --rate-limit (default: the request count).")
        var burst: Int?

        func validate() throws {
            if burst != nil, rateLimit == nil { throw ValidationError("--burst needs --rate-limit") }
            if let failure = KeyRecord.nameValidationFailure(name) { throw ValidationError("--name: \(failure)") }
            if let failure = Self.splitList(models).lazy.compactMap(KeyRecord.modelValidationFailure).first {
                throw ValidationError("--models: \(failure)")
            }
            _ = try parsedScopes()
            _ = try parsedRateLimit()
        }

        func run() throws {
            let scopes = try parsedScopes()
            let rateLimit = try parsedRateLimit()
            let models = Self.splitList(self.models)
            let (key, record) = try keysFileOperation {
                try KeyFile.update(at: file, createIfMissing: true) { (file: inout KeyFile) throws(KeyFileError) in
                    try file.create(name: name, scopes: scopes, models: models.isEmpty ? nil : models, rateLimit: rateLimit, now: Date())
                }
            }
            print(key.reveal())
            warn("created key \(record.id) (\(record.name)) in \(file); it will not be shown again, store it now")
        }

        private func parsedScopes() throws -> Set<KeyScope> {
            var scopes: Set<KeyScope> = []
            for name in Self.splitList(scope) {
                guard let scope = KeyScope(name: name) else {
                    throw ValidationError("unknown scope \"\(name)\" (allowed: \(KeyScope.all.map(\.name).joined(separator: ", ")))")
                }
                scopes.insert(scope)
            }
            if scopes.isEmpty { throw ValidationError("--scope needs at least one of \(KeyScope.all.map(\.name).joined(separator: ", "))") }
            return scopes
        }

        private func parsedRateLimit() throws -> KeyRateLimit? {
            guard let text = rateLimit else { return nil }
            guard let limit = KeyRateLimit(parsing: text, burst: burst) else {
                throw ValidationError(
                    "--rate-limit \(text)\(burst.map { " --burst \($0)" } ?? "") is not a limit such as 100/minute, 10/s or 1000/5m, "
                        + "with every value at least 1, a window of at most 366 days and a burst of at most \(KeyRateLimit.maximumBurst)"
                )
            }
            return limit
        }

        /// `["infer,admin", "x"]` → `["infer", "admin", "x"]`, blanks dropped.
        static func splitList(_ values: [String]) -> [String] {
            values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    /// `modelhost keys list`: show the keys in a file, never their secrets or hashes.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys in a keys file: ids, names, scopes, models, limits, dates.")

        @Option(name: .long, help: "The keys file.")
        var file: String

        func run() throws {
            let keys = try keysFileOperation { try KeyFile.load(from: file) }
            guard !keys.records.isEmpty else {
                print("no keys in \(file)")
                return
            }
            var rows = [["ID", "NAME", "SCOPES", "MODELS", "RATE LIMIT", "CREATED", "REVOKED"]]
            for record in keys.records {
                let scopes: String = record.scopes.sorted().map(\.name).joined(separator: ",")
                let models: String = record.models?.joined(separator: ",") ?? "*"
                let rate: String = record.rateLimit?.description ?? "-"
                let revoked: String = record.revokedAt.map(Self.format) ?? "-"
                rows.append([record.id, record.name, scopes, models, rate, Self.format(record.createdAt), revoked])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                let cells = row.enumerated().map { column, cell in
                    column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                }
                print(cells.joined(separator: "  "))
            }
        }

        private static func format(_ date: Date) -> String {
            date.formatted(Date.ISO8601FormatStyle())
        }
    }

    /// `modelhost keys revoke`: mark a key revoked; servers stop accepting it on their next reload.
    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key by id. Running servers refuse it once they reread the file.",
            discussion: "Revoking an already revoked key changes nothing and succeeds."
        )

        @Option(name: .long, help: "The keys file.")
        var file: String

        @Argument(help: "The key's id (the 12 characters after mh_).")
        var id: String

        func run() throws {
            let now = Date()
            let (record, wasRevoked) = try keysFileOperation {
                try KeyFile.update(at: file) { (file: inout KeyFile) throws(KeyFileError) in
                    let wasRevoked = file.record(id: id)?.isRevoked ?? false
                    return (try file.revoke(id: id, now: now), wasRevoked)
                }
            }
            let when = record.revokedAt.map { $0.formatted(Date.ISO8601FormatStyle()) } ?? "?"
            if wasRevoked {
                print("key \(record.id) (\(record.name)) was already revoked at \(when)")
            } else {
                print("revoked key \(record.id) (\(record.name)) at \(when)")
            }
        }
    }

    /// `modelhost keys export-env`: the `MODELHOST_API_KEYS` value for a keys file.
    struct ExportEnv: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-env",
            abstract: "Print the MODELHOST_API_KEYS value (ids, hashes and scopes) for the unrevoked keys in a keys file.",
            discussion: "The value carries hashes, never keys. Rate limits are not carried."
        )

        @Option(name: .long, help: "The keys file.")
        var file: String

        func run() throws {
            let keys = try keysFileOperation { try KeyFile.load(from: file) }
            print(keys.records.filter { !$0.isRevoked }.map(EnvironmentKeys.entry(for:)).joined(separator: ";"))
        }
    }
}

/// Runs a keys file operation. A bad argument becomes a `ValidationError` (reported with usage);
/// any other failure is reported as `Error: <file>: <message>`.
private func keysFileOperation<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as KeyFileError where error.code == .invalidArgument {
        throw ValidationError(error.message)
    }
}

/// Writes one line to standard error.
private func warn(_ message: String) {
    FileHandle.standardError.write(Data(("modelhost: " + message + "\n").utf8))
}
