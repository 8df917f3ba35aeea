import Foundation
import Testing

@testable import Gatekeeper

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A temporary directory for keys files, removed when dropped.
final class KeyFileScratch: Sendable {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("modelhost-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var keysFile: String { directory + "/keys.json" }

    /// Writes `text` into the existing file at `path`, keeping its inode.
    func overwriteInPlace(_ path: String, with text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Writes `text` to a new file and renames it over `path`.
    func replaceByRename(_ path: String, with text: String) throws {
        let temporary = directory + "/replacement-\(UUID().uuidString)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        #expect(rename(temporary, path) == 0)
    }

    func inode(_ path: String) -> UInt64 {
        var status = stat()
        _ = stat(path, &status)
        return UInt64(status.st_ino)
    }
}

@Suite("Keys file")
struct KeyFileTests {
    static let now = Date(timeIntervalSince1970: 1_738_315_800)  // 2025-01-31T09:30:00Z

    @Test("only hashes reach the disk, with mode 0600")
    func onlyHashesOnDisk() throws {
        let scratch = try KeyFileScratch()
        var file = try KeyFile.load(from: scratch.keysFile, allowMissing: true)
        #expect(file.records.isEmpty)
        let (key, record) = try file.create(name: "dev", scopes: [.infer, .admin], now: Self.now)
        let (other, _) = try file.create(name: "ci", scopes: [.infer], models: ["echo"], now: Self.now)
        try file.save()

        let bytes = try String(decoding: Data(contentsOf: URL(fileURLWithPath: scratch.keysFile)), as: UTF8.self)
        for clear in [key.reveal(), other.reveal()] {
            #expect(!bytes.contains(clear))
            #expect(!bytes.contains(KeyParts(clear).secret))
        }
        #expect(bytes.contains(record.hash))
        #expect(bytes.contains(key.id))

        var status = stat()
        #expect(stat(scratch.keysFile, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        // No temporary files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.directory) == ["keys.json"])
    }

    @Test("the file format: version 1, sorted keys, ISO 8601 dates")
    func format() throws {
        let scratch = try KeyFileScratch()
        var file = KeyFile(path: scratch.keysFile)
        let (key, _) = try file.create(
            name: "billing",
            scopes: [.infer],
            models: ["echo", "intent-classifier", "echo"],
            rateLimit: KeyRateLimit(requests: 100, windowSeconds: 60, burst: 20),
            now: Self.now.addingTimeInterval(0.75)
        )
        try file.revoke(id: key.id, now: Self.now.addingTimeInterval(3600))
        try file.save()
        let object = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.keysFile))) as? [String: Any]
        )
        #expect(object["version"] as? Int == 1)
        let entry = try #require((object["keys"] as? [[String: Any]])?.first)
        #expect(Set(entry.keys) == ["id", "name", "hash", "scopes", "models", "rateLimit", "createdAt", "revokedAt"])
        #expect(entry["id"] as? String == key.id)
        #expect(entry["hash"] as? String == key.hash)
        #expect(entry["scopes"] as? [String] == ["infer"])
        #expect(entry["models"] as? [String] == ["echo", "intent-classifier"])
        #expect(entry["createdAt"] as? String == "2025-01-31T09:30:00Z")
        #expect(entry["revokedAt"] as? String == "2025-01-31T10:30:00Z")
        let limit = try #require(entry["rateLimit"] as? [String: Int])
        #expect(limit == ["requests": 100, "windowSeconds": 60, "burst": 20])
    }

    @Test("save and load round-trip every field")
    func roundTrip() throws {
        let scratch = try KeyFileScratch()
        var file = KeyFile(path: scratch.keysFile)
        _ = try file.create(name: "a", scopes: [.infer], now: Self.now)
        _ = try file.create(name: "b", scopes: [.admin, .infer], models: ["echo"], rateLimit: KeyRateLimit(parsing: "10/s"), now: Self.now)
        let (revoked, _) = try file.create(name: "c ünïcødé", scopes: [.admin], models: ["intent-classifier"], now: Self.now)
        try file.revoke(id: revoked.id, now: Self.now.addingTimeInterval(10.5))
        try file.save()
        let loaded = try KeyFile.load(from: scratch.keysFile)
        #expect(loaded.records == file.records)
        #expect(loaded.records.map(\.name) == ["a", "b", "c ünïcødé"])
        #expect(loaded.records[2].models == ["intent-classifier"])
        // An empty model list (no model at all) survives too, though create does not make one.
        let noModels = KeyFile(path: scratch.keysFile, records: [KeyRecord(id: "abcdefghijkl", name: "none", hash: revoked.hash, scopes: [.admin], models: [], createdAt: Self.now)])
        try noModels.save()
        #expect(try KeyFile.load(from: scratch.keysFile).records == noModels.records)
        #expect(loaded.records[2].revokedAt == Self.now.addingTimeInterval(10))
    }

    @Test("a revocation saved to the file takes effect in a ring built from the reloaded file")
    func revokeTakesEffect() throws {
        let scratch = try KeyFileScratch()
        let (old, new) = try KeyFile.update(at: scratch.keysFile, createIfMissing: true) { (file: inout KeyFile) throws(KeyFileError) in
            (try file.create(name: "svc", scopes: [.infer], now: Self.now).key, try file.create(name: "svc", scopes: [.infer], now: Self.now).key)
        }
        // Rotation: both valid until the old one is revoked.
        var ring = KeyRing(records: try KeyFile.load(from: scratch.keysFile).records)
        #expect(ring.authenticate(old.reveal()).isAuthenticated)
        #expect(ring.authenticate(new.reveal()).isAuthenticated)

        try KeyFile.update(at: scratch.keysFile) { (file: inout KeyFile) throws(KeyFileError) in
            try file.revoke(id: old.id, now: Self.now)
        }
        ring = KeyRing(records: try KeyFile.load(from: scratch.keysFile).records)
        #expect(ring.authenticate(old.reveal()) == .revoked(id: old.id))
        #expect(ring.authenticate(new.reveal()).isAuthenticated)
    }

    @Test("revoking is idempotent and keeps the first time; an unknown id is an error")
    func revoke() throws {
        var file = KeyFile(path: "/nonexistent/keys.json")
        let (key, _) = try file.create(name: "x", scopes: [.infer], now: Self.now)
        let first = try file.revoke(id: key.id, now: Self.now.addingTimeInterval(60))
        let second = try file.revoke(id: key.id, now: Self.now.addingTimeInterval(120))
        #expect(first.revokedAt == Self.now.addingTimeInterval(60))
        #expect(second == first)
        let error = #expect(throws: KeyFileError.self) { try file.revoke(id: "aaaaaaaaaaaa", now: Self.now) }
        #expect(error?.code == .unknownID)
        #expect(error?.description.contains("aaaaaaaaaaaa") == true)
    }

    @Test("create gives each key in a file its own id")
    func uniqueIDs() throws {
        var file = KeyFile(path: "/nonexistent/keys.json")
        for index in 0..<300 { _ = try file.create(name: "k\(index)", scopes: [.infer], now: Self.now) }
        #expect(Set(file.records.map(\.id)).count == 300)
    }

    @Test("create refuses unusable arguments", arguments: [
        ("", [KeyScope.infer], nil as [String]?, nil as KeyRateLimit?),
        ("line\nbreak", [.infer], nil, nil),
        (String(repeating: "n", count: 129), [.infer], nil, nil),
        ("no scopes", [], nil, nil),
        ("empty models", [.infer], [], nil),
        ("blank model", [.infer], [""], nil),
        ("model with comma", [.infer], ["a,b"], nil),
        ("zero burst", [.infer], nil, KeyRateLimit(requests: 1, windowSeconds: 1, burst: 0)),
        ("zero window", [.infer], nil, KeyRateLimit(requests: 1, windowSeconds: 0)),
    ])
    func createValidation(name: String, scopes: [KeyScope], models: [String]?, rateLimit: KeyRateLimit?) {
        var file = KeyFile(path: "/nonexistent/keys.json")
        let error = #expect(throws: KeyFileError.self) {
            try file.create(name: name, scopes: Set(scopes), models: models, rateLimit: rateLimit, now: Self.now)
        }
        #expect(error?.code == .invalidArgument)
        #expect(file.records.isEmpty)
    }

    @Test("a missing file is an error unless allowed")
    func missingFile() throws {
        let scratch = try KeyFileScratch()
        let error = #expect(throws: KeyFileError.self) { try KeyFile.load(from: scratch.keysFile) }
        #expect(error?.code == .notFound)
        #expect(error?.path == scratch.keysFile)
        #expect(try KeyFile.load(from: scratch.keysFile, allowMissing: true).records.isEmpty)
    }

    // MARK: Decoding errors

    static let goodRecord = """
        {"id": "abcdefghijkl", "name": "n", "hash": "\(String(repeating: "ab", count: 32))", "scopes": ["infer"], "createdAt": "2025-01-31T09:30:00Z"}
        """

    static func document(_ record: String = goodRecord, extra: String = "") -> String {
        "{\"version\": 1, \"keys\": [\(record)]\(extra)}"
    }

    static func record(replacing old: String, with new: String) -> String {
        document(goodRecord.replacingOccurrences(of: old, with: new))
    }

    @Test("decoding errors name the file and the JSON path", arguments: [
        ("not JSON", "{", "(document)"),
        ("version 2", "{\"version\": 2, \"keys\": []}", "version: version 2 is not supported"),
        ("missing version", "{\"keys\": []}", "version: is required"),
        ("unknown top-level key", document(extra: ", \"extra\": 1"), "extra: unknown key"),
        ("unknown record key", record(replacing: "\"name\": \"n\"", with: "\"name\": \"n\", \"secret\": \"x\""), "keys[0].secret: unknown key"),
        ("bad id", record(replacing: "abcdefghijkl", with: "ABCDEFGHIJKL"), "keys[0].id: must be 12 characters"),
        ("short hash", record(replacing: String(repeating: "ab", count: 32), with: "abcd"), "keys[0].hash: must be 64 hexadecimal"),
        ("non-hex hash", record(replacing: String(repeating: "ab", count: 32), with: String(repeating: "zz", count: 32)), "keys[0].hash"),
        ("unknown scope", record(replacing: "[\"infer\"]", with: "[\"root\"]"), "keys[0].scopes[0]: unknown scope \"root\""),
        ("no scopes", record(replacing: "[\"infer\"]", with: "[]"), "keys[0].scopes: must name at least one scope"),
        ("missing name", record(replacing: "\"name\": \"n\",", with: ""), "keys[0].name: is required"),
        ("empty name", record(replacing: "\"name\": \"n\"", with: "\"name\": \"\""), "keys[0].name: the name is empty"),
        ("bad date", record(replacing: "2025-01-31T09:30:00Z", with: "yesterday"), "keys[0].createdAt: must be an ISO 8601 date"),
        ("numeric date", record(replacing: "\"2025-01-31T09:30:00Z\"", with: "1738315800"), "keys[0].createdAt: must be a string"),
        ("bad rate limit", record(replacing: "\"name\": \"n\"", with: "\"name\": \"n\", \"rateLimit\": {\"requests\": 0, \"windowSeconds\": 60}"), "keys[0].rateLimit.requests: must be at least 1"),
        ("rate limit key", record(replacing: "\"name\": \"n\"", with: "\"name\": \"n\", \"rateLimit\": {\"requests\": 1, \"per\": 60}"), "keys[0].rateLimit.per: unknown key"),
        ("empty model", record(replacing: "\"name\": \"n\"", with: "\"name\": \"n\", \"models\": [\"\"]"), "keys[0].models: a model name is empty"),
        ("duplicate id", "{\"version\": 1, \"keys\": [\(goodRecord), \(goodRecord)]}", "keys[1].id: duplicate id abcdefghijkl"),
    ])
    func decodingErrors(label: String, json: String, expected: String) {
        let error = #expect(throws: KeyFileError.self, "\(label)") { try KeyFile.decode(Data(json.utf8), path: "/etc/modelhost/keys.json") }
        #expect(error?.code == .invalid, "\(label)")
        #expect(error?.description.hasPrefix("/etc/modelhost/keys.json: ") == true, "\(label): \(String(describing: error))")
        #expect(error?.message.contains(expected) == true, "\(label): \(error?.message ?? "")")
    }

    @Test("decoding accepts optional fields, nulls, fractional seconds and upper-case hashes")
    func lenientWhereHarmless() throws {
        let json = Self.record(
            replacing: "\"name\": \"n\"",
            with: "\"name\": \"n\", \"models\": null, \"rateLimit\": {\"requests\": 5, \"windowSeconds\": 1}, \"revokedAt\": \"2025-02-01T00:00:00.250Z\""
        ).replacingOccurrences(of: String(repeating: "ab", count: 32), with: String(repeating: "AB", count: 32))
        let record = try #require(try KeyFile.decode(Data(json.utf8), path: "k.json").first)
        #expect(record.hash == String(repeating: "ab", count: 32))
        #expect(record.models == nil)
        #expect(record.rateLimit == KeyRateLimit(requests: 5, windowSeconds: 1, burst: 5))
        #expect(record.revokedAt == Date(timeIntervalSince1970: 1_738_368_000.25))
        #expect(try KeyFile.decode(Data("{\"version\": 1, \"keys\": []}".utf8), path: "k.json").isEmpty)
        let minimal = try #require(try KeyFile.decode(Data(Self.document().utf8), path: "k.json").first)
        #expect(minimal.revokedAt == nil)
        #expect(minimal.models == nil)
        #expect(minimal.rateLimit == nil)
        #expect(minimal.createdAt == Self.now)
    }

    @Test("rate limit text", arguments: [
        ("100/minute", KeyRateLimit(requests: 100, windowSeconds: 60)),
        ("100/min", KeyRateLimit(requests: 100, windowSeconds: 60)),
        ("10/s", KeyRateLimit(requests: 10, windowSeconds: 1)),
        ("10/second", KeyRateLimit(requests: 10, windowSeconds: 1)),
        ("5000/hour", KeyRateLimit(requests: 5000, windowSeconds: 3600)),
        ("20000/day", KeyRateLimit(requests: 20000, windowSeconds: 86400)),
        ("100/30s", KeyRateLimit(requests: 100, windowSeconds: 30)),
        ("1000/5m", KeyRateLimit(requests: 1000, windowSeconds: 300)),
        (" 7 / 2h ", KeyRateLimit(requests: 7, windowSeconds: 7200)),
        ("100", nil), ("0/s", nil), ("-1/s", nil), ("10/0s", nil), ("10/fortnight", nil), ("ten/s", nil), ("10/s/s", nil),
        ("10/400d", nil),
    ] as [(String, KeyRateLimit?)])
    func rateLimitParsing(text: String, expected: KeyRateLimit?) {
        #expect(KeyRateLimit(parsing: text) == expected)
    }

    @Test("a burst given with the rate limit")
    func rateLimitBurst() {
        #expect(KeyRateLimit(parsing: "100/minute", burst: 10) == KeyRateLimit(requests: 100, windowSeconds: 60, burst: 10))
        #expect(KeyRateLimit(parsing: "100/minute", burst: 0) == nil)
        #expect(KeyRateLimit(requests: 100, windowSeconds: 60).window == .seconds(60))
    }

    // MARK: Monitor

    @Test("the monitor loads, then reports nil until the file changes in place or by rename")
    func monitor() throws {
        let scratch = try KeyFileScratch()
        var file = KeyFile(path: scratch.keysFile)
        let (first, _) = try file.create(name: "first", scopes: [.infer], now: Self.now)
        try file.save()

        let monitor = KeyFileMonitor(path: scratch.keysFile)
        #expect(try monitor.reloadIfChanged()?.map(\.id) == [first.id])
        #expect(try monitor.reloadIfChanged() == nil)
        #expect(try monitor.reloadIfChanged() == nil)

        // Rewritten in place, a different size.
        let (second, _) = try file.create(name: "second", scopes: [.infer], now: Self.now)
        let inode = scratch.inode(scratch.keysFile)
        try scratch.overwriteInPlace(scratch.keysFile, with: String(decoding: file.encoded(), as: UTF8.self))
        #expect(scratch.inode(scratch.keysFile) == inode)
        #expect(try monitor.reloadIfChanged()?.map(\.id) == [first.id, second.id])
        #expect(try monitor.reloadIfChanged() == nil)

        // Rewritten in place with the same size, at once: caught while the file is settling.
        let sameSize = String(decoding: file.encoded(), as: UTF8.self).replacingOccurrences(of: "\"first\"", with: "\"FIRST\"")
        try scratch.overwriteInPlace(scratch.keysFile, with: sameSize)
        #expect(try monitor.reloadIfChanged()?.map(\.name) == ["FIRST", "second"])
        #expect(try monitor.reloadIfChanged() == nil)

        // Replaced by rename, as KeyFile.save() does.
        try file.revoke(id: first.id, now: Self.now)
        try file.save()
        #expect(scratch.inode(scratch.keysFile) != inode)
        let reloaded = try #require(try monitor.reloadIfChanged())
        #expect(reloaded == file.records)
        #expect(KeyRing(records: reloaded).authenticate(first.reveal()) == .revoked(id: first.id))
        #expect(try monitor.reloadIfChanged() == nil)

        // Replaced by rename with identical bytes: a new inode, so it is read again.
        try scratch.replaceByRename(scratch.keysFile, with: String(decoding: file.encoded(), as: UTF8.self))
        #expect(try monitor.reloadIfChanged() == file.records)
        #expect(try monitor.reloadIfChanged() == nil)
    }

    @Test("the monitor reports a broken or missing file once, then recovers")
    func monitorErrors() throws {
        let scratch = try KeyFileScratch()
        var file = KeyFile(path: scratch.keysFile)
        _ = try file.create(name: "k", scopes: [.infer], now: Self.now)

        let monitor = KeyFileMonitor(path: scratch.keysFile)
        let missing = #expect(throws: KeyFileError.self) { try monitor.reloadIfChanged() }
        #expect(missing?.code == .notFound)
        #expect(try monitor.reloadIfChanged() == nil)

        try file.save()
        #expect(try monitor.reloadIfChanged()?.count == 1)

        try scratch.replaceByRename(scratch.keysFile, with: "{\"version\": 1, \"keys\": [")
        let invalid = #expect(throws: KeyFileError.self) { try monitor.reloadIfChanged() }
        #expect(invalid?.code == .invalid)
        #expect(try monitor.reloadIfChanged() == nil)

        try file.save()
        #expect(try monitor.reloadIfChanged()?.count == 1)

        try FileManager.default.removeItem(atPath: scratch.keysFile)
        let gone = #expect(throws: KeyFileError.self) { try monitor.reloadIfChanged() }
        #expect(gone?.code == .notFound)
        #expect(try monitor.reloadIfChanged() == nil)
    }

    @Test("identity alone is trusted once the file's last change is old enough")
    func settling() throws {
        let scratch = try KeyFileScratch()
        try KeyFile(path: scratch.keysFile).save()
        let identity = try #require(try KeyFileIO.identity(scratch.keysFile))
        let now = FileIdentity.Timestamp.now()
        #expect(!identity.isSettled(at: now))
        #expect(identity.isSettled(at: FileIdentity.Timestamp(timespec(tv_sec: Int(now.seconds) + 3, tv_nsec: 0))))
        #expect(try KeyFileIO.identity(scratch.directory + "/absent.json") == nil)
    }
}

extension Authentication {
    /// Whether this is ``authenticated(_:)``.
    var isAuthenticated: Bool {
        if case .authenticated = self { return true }
        return false
    }
}
