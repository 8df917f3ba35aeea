import Foundation
import Testing

@testable import Gatekeeper

@Suite("MODELHOST_API_KEYS")
struct EnvironmentKeysTests {
    static let hashA = String(repeating: "9f", count: 32)
    static let hashB = String(repeating: "0a", count: 32)

    /// A parsed entry, reduced to what the table checks.
    struct Expected: Sendable, Hashable {
        var id: String
        var hash: String
        var scopes: Set<KeyScope>
        var models: [String]?
    }

    @Test("valid values", arguments: [
        ("", []),
        ("   ", []),
        (";;", []),
        ("abcdefghijkl:\(hashA):infer", [Expected(id: "abcdefghijkl", hash: hashA, scopes: [.infer])]),
        ("abcdefghijkl:\(hashA):infer+admin:echo+intent-classifier", [
            Expected(id: "abcdefghijkl", hash: hashA, scopes: [.infer, .admin], models: ["echo", "intent-classifier"])
        ]),
        (" abcdefghijkl : \(hashA.uppercased()) : admin ; k7f3q4x2abcd:\(hashB):infer:echo ; ", [
            Expected(id: "abcdefghijkl", hash: hashA, scopes: [.admin]),
            Expected(id: "k7f3q4x2abcd", hash: hashB, scopes: [.infer], models: ["echo"]),
        ]),
        ("abcdefghijkl:\(hashA):infer+infer:echo+echo", [Expected(id: "abcdefghijkl", hash: hashA, scopes: [.infer], models: ["echo"])]),
    ] as [(String, [Expected])])
    func valid(value: String, expected: [Expected]) throws {
        let records = try EnvironmentKeys.parse(value)
        #expect(records.map { Expected(id: $0.id, hash: $0.hash, scopes: $0.scopes, models: $0.models) } == expected)
        for record in records {
            #expect(record.name == "env:\(record.id)")
            #expect(record.createdAt == .distantPast)
            #expect(record.revokedAt == nil)
            #expect(record.rateLimit == nil)
        }
    }

    @Test("invalid values name the entry and the problem", arguments: [
        ("abcdefghijkl", 1, "has 1 field; expected id:sha256:scopes[:models]"),
        ("abcdefghijkl:\(hashA)", 1, "has 2 fields"),
        ("abcdefghijkl:\(hashA):infer:echo:extra", 1, "has 5 fields"),
        ("abcdefghijkl:\(hashA):infer;;bad:\(hashA):infer", 3, "the id must be 12 characters"),
        ("ABCDEFGHIJKL:\(hashA):infer", 1, "the id must be"),
        ("abcdefghijkl:abc123:infer", 1, "key abcdefghijkl: the hash must be 64 hexadecimal characters (a SHA-256), not 6 characters"),
        ("abcdefghijkl:\(String(repeating: "xy", count: 32)):infer", 1, "the hash must be 64 hexadecimal"),
        ("abcdefghijkl:\(hashA):root", 1, "key abcdefghijkl: unknown scope \"root\" (allowed: admin, infer)"),
        ("abcdefghijkl:\(hashA):", 1, "a scope is empty"),
        ("abcdefghijkl:\(hashA):infer+", 1, "a scope is empty"),
        ("abcdefghijkl:\(hashA):infer:", 1, "a model name is empty"),
        ("abcdefghijkl:\(hashA):infer:echo++x", 1, "a model name is empty"),
        ("abcdefghijkl:\(hashA):infer;abcdefghijkl:\(hashB):admin", 2, "duplicate id abcdefghijkl"),
        ("mh_abcdefghijkl_secret", 1, "looks like a clear API key"),
    ] as [(String, Int, String)])
    func invalid(value: String, entry: Int, message: String) {
        let error = #expect(throws: EnvironmentKeysError.self) { try EnvironmentKeys.parse(value) }
        #expect(error?.entry == entry)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
        #expect(error?.description.hasPrefix("MODELHOST_API_KEYS entry \(entry): ") == true)
    }

    @Test("a clear key pasted into the variable is refused without being echoed")
    func clearKeyNotEchoed() {
        let key = APIKey.generate()
        let error = #expect(throws: EnvironmentKeysError.self) { try EnvironmentKeys.parse(key.reveal()) }
        #expect(error?.description.contains(KeyParts(key.reveal()).secret) == false)
    }

    @Test("records(in:) reads the variable, and an unset variable gives none")
    func environment() throws {
        #expect(try EnvironmentKeys.records(in: [:]).isEmpty)
        let records = try EnvironmentKeys.records(in: ["MODELHOST_API_KEYS": "abcdefghijkl:\(Self.hashA):infer"])
        #expect(records.map(\.id) == ["abcdefghijkl"])
    }

    @Test("an exported entry parses back and authenticates its key")
    func exportRoundTrip() throws {
        var file = KeyFile(path: "/nonexistent/keys.json")
        let (key, record) = try file.create(name: "svc", scopes: [.admin, .infer], models: ["echo", "intent-classifier"], now: Date())
        let (plain, plainRecord) = try file.create(name: "plain", scopes: [.infer], now: Date())
        let value = [record, plainRecord].map(EnvironmentKeys.entry(for:)).joined(separator: ";")
        #expect(value == "\(key.id):\(key.hash):admin+infer:echo+intent-classifier;\(plain.id):\(plain.hash):infer")
        #expect(!value.contains(KeyParts(key.reveal()).secret))

        let ring = KeyRing(records: try EnvironmentKeys.parse(value))
        guard case .authenticated(let found) = ring.authenticate(key.reveal()) else {
            Issue.record("the exported key did not authenticate")
            return
        }
        #expect(found.name == "env:\(key.id)")
        #expect(found.scopes == [.infer, .admin])
        #expect(found.models == ["echo", "intent-classifier"])
        #expect(ring.authenticate(plain.reveal()).isAuthenticated)
    }
}
