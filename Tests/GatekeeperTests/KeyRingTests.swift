import Foundation
import ModelHostCore
import Testing

@testable import Gatekeeper

@Suite("Key ring")
struct KeyRingTests {
    static let created = Date(timeIntervalSince1970: 1_700_000_000)

    static func record(for key: APIKey, name: String = "test", scopes: Set<KeyScope> = [.infer], revokedAt: Date? = nil) -> KeyRecord {
        KeyRecord(id: key.id, name: name, hash: key.hash, scopes: scopes, createdAt: created, revokedAt: revokedAt)
    }

    /// A key with the same id as `key` and a different secret (and so a valid checksum of its own).
    static func impostor(of key: APIKey) -> APIKey {
        let secret = KeyParts(key.reveal()).secret
        let other = secret.first == "A" ? "B" + secret.dropFirst() : "A" + secret.dropFirst()
        return APIKey(id: key.id, secret: String(other))
    }

    // MARK: Constant-time comparison

    static let hashA = String(repeating: "a", count: 63) + "0"

    @Test("constant-time comparison", arguments: [
        ("", "", true),
        ("a", "a", true),
        ("abc", "abd", false),
        ("abc", "abcd", false),
        (hashA, hashA, true),
        (hashA, String(repeating: "a", count: 63) + "1", false),  // differs only in the last character
        (hashA, "b" + hashA.dropFirst(), false),  // differs only in the first
        (hashA, hashA.uppercased(), false),
        (hashA, String(hashA.dropLast()), false),
    ])
    func constantTimeEquals(lhs: String, rhs: String, isEqual: Bool) {
        #expect(KeyRing.constantTimeEquals(lhs, rhs) == isEqual)
        #expect(KeyRing.constantTimeEquals(rhs, lhs) == isEqual)
    }

    @Test("constant-time comparison agrees with == on real hashes")
    func constantTimeEqualsOnHashes() {
        let hashes = (0..<50).map { _ in APIKey.generate().hash }
        for left in hashes {
            for right in hashes {
                #expect(KeyRing.constantTimeEquals(left, right) == (left == right))
            }
        }
    }

    // MARK: Authentication

    @Test("authenticate: good, malformed, unknown id, wrong secret, revoked")
    func authenticate() {
        let good = APIKey.generate()
        let revoked = APIKey.generate()
        let stranger = APIKey.generate()
        let goodRecord = Self.record(for: good, name: "good", scopes: [.infer, .admin])
        let ring = KeyRing(records: [goodRecord, Self.record(for: revoked, revokedAt: Self.created.addingTimeInterval(60))])

        #expect(ring.authenticate(good.reveal()) == .authenticated(goodRecord))
        #expect(ring.authenticate(stranger.reveal()) == .unknown)
        #expect(ring.authenticate(Self.impostor(of: good).reveal()) == .unknown)
        #expect(ring.authenticate(revoked.reveal()) == .revoked(id: revoked.id))
        // A wrong secret for a revoked id says nothing about revocation.
        #expect(ring.authenticate(Self.impostor(of: revoked).reveal()) == .unknown)

        let text = good.reveal()
        let lastCharacter: Character = text.last == "A" ? "B" : "A"
        for malformed in ["", "mh_", "hello", String(text.dropLast()) + String(lastCharacter), " " + text, text.uppercased(), "Bearer " + text] {
            #expect(ring.authenticate(malformed) == .malformed, "\(malformed)")
        }
    }

    @Test("an empty ring knows no key")
    func emptyRing() {
        let ring = KeyRing(records: [])
        #expect(ring.isEmpty)
        #expect(ring.authenticate(APIKey.generate().reveal()) == .unknown)
    }

    @Test("a stored hash in upper case still matches")
    func upperCaseHash() {
        let key = APIKey.generate()
        let record = KeyRecord(id: key.id, name: "upper", hash: key.hash.uppercased(), scopes: [.infer], createdAt: Self.created)
        #expect(record.hash == key.hash)
        #expect(KeyRing(records: [record]).authenticate(key.reveal()) == .authenticated(record))
    }

    @Test("with two records for one id, a matching revoked one wins")
    func duplicateIDs() {
        let key = APIKey.generate()
        let live = Self.record(for: key, name: "env:\(key.id)")
        let dead = Self.record(for: key, name: "file", revokedAt: Self.created)
        #expect(KeyRing(records: [live, dead]).authenticate(key.reveal()) == .revoked(id: key.id))
        #expect(KeyRing(records: [dead, live]).authenticate(key.reveal()) == .revoked(id: key.id))

        // A record for the id with another hash does not get in the way.
        let other = KeyRecord(id: key.id, name: "other", hash: APIKey.generate().hash, scopes: [.admin], createdAt: Self.created)
        #expect(KeyRing(records: [other, live]).authenticate(key.reveal()) == .authenticated(live))
    }

    @Test("scope and model permissions")
    func permissions() {
        let key = APIKey.generate()
        var record = Self.record(for: key, scopes: [.infer])
        #expect(record.permits(.infer))
        #expect(!record.permits(.admin))
        #expect(record.permits(model: "anything"))
        record.models = ["echo"]
        #expect(record.permits(model: "echo"))
        #expect(!record.permits(model: "intent-classifier"))
        record.models = []
        #expect(!record.permits(model: "echo"))
    }

    // MARK: Headers

    static let key = "mh_abcdefghijkl_0123456789ABCDEFGHIJKLMNOPQRSTUVxxxxxx"

    @Test("credential extraction", arguments: [
        (nil, nil, nil),
        (key, nil, key),
        ("  \(key)\t", nil, key),
        (nil, "Bearer \(key)", key),
        (nil, "bearer \(key)", key),
        (nil, "BEARER \(key)", key),
        (nil, "Bearer    \(key)", key),
        (nil, "Bearer\t\(key)", key),
        (nil, "  Bearer \(key)  ", key),
        (nil, "Bearer", nil),
        (nil, "Bearer ", nil),
        (nil, "Bearer\(key)", nil),
        (nil, "Basic dXNlcjpwYXNz", nil),
        (nil, "Token \(key)", nil),
        (nil, "Bearer \(key) extra", nil),
        ("x-key", "Bearer \(key)", "x-key"),  // X-API-Key wins when both are present
        ("", "Bearer \(key)", key),  // an empty X-API-Key counts as absent
        ("   ", nil, nil),
        (nil, "", nil),
    ] as [(String?, String?, String?)])
    func credential(xAPIKey: String?, authorization: String?, expected: String?) {
        #expect(KeyRing.credential(fromHeaders: xAPIKey, authorization: authorization) == expected)
    }
}
