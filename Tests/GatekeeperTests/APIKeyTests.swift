import Foundation
import ModelHostCore
import Testing

@testable import Gatekeeper

/// A deterministic generator (SplitMix64), so tests that draw random strings are reproducible.
struct KeyTestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}

/// The parts of a clear key's text, for tests that look inside it.
struct KeyParts {
    var id: Substring
    var secret: Substring
    var checksum: Substring

    init(_ text: String) {
        id = text.dropFirst(3).prefix(12)
        secret = text.dropFirst(16).prefix(32)
        checksum = text.suffix(6)
    }
}

@Suite("API keys")
struct APIKeyTests {
    static let base32 = Set("abcdefghijklmnopqrstuvwxyz234567")
    static let base62 = Set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

    @Test("CRC-32 matches the standard check value")
    func crc32CheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
    }

    @Test("a key is mh_<12 base32>_<32 base62><6 base62 checksum>")
    func format() throws {
        let key = APIKey.generate()
        let text = key.reveal()
        #expect(text.count == 54)
        #expect(APIKey.length == 54)
        #expect(text.hasPrefix("mh_"))
        #expect(Array(text)[15] == "_")
        let parts = KeyParts(text)
        #expect(parts.id.allSatisfy(Self.base32.contains))
        #expect(parts.secret.allSatisfy(Self.base62.contains))
        #expect(parts.checksum.allSatisfy(Self.base62.contains))
        #expect(String(parts.id) == key.id)
        #expect(APIKey.isValidID(key.id))

        let parsed = try #require(APIKey(parsing: text))
        #expect(parsed.id == key.id)
        #expect(parsed.reveal() == text)
        #expect(key.hash == SHA256.hexDigest(of: text.utf8))
        #expect(key.hash.count == 64)
    }

    @Test("the checksum is the CRC-32 of the first 48 characters in 6 base62 digits")
    func checksumEncoding() {
        let key = APIKey(id: "abcdefghijkl", secret: String(repeating: "0", count: 32))
        let text = key.reveal()
        var value = CRC32.checksum(Array(text.utf8.prefix(48)))
        var digits = ""
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        for _ in 0..<6 {
            digits = String(alphabet[Int(value % 62)]) + digits
            value /= 62
        }
        #expect(text == "mh_abcdefghijkl_" + String(repeating: "0", count: 32) + digits)
    }

    @Test("10,000 keys: unique ids and secrets, all parse, symbols evenly used")
    func entropy() throws {
        var ids: Set<String> = []
        var secrets: Set<Substring> = []
        var idCounts: [Character: Int] = [:]
        var secretCounts: [Character: Int] = [:]
        let count = 10_000
        for _ in 0..<count {
            let key = APIKey.generate()
            let text = key.reveal()
            let parts = KeyParts(text)
            ids.insert(key.id)
            secrets.insert(parts.secret)
            for character in parts.id { idCounts[character, default: 0] += 1 }
            for character in parts.secret { secretCounts[character, default: 0] += 1 }
            let parsed = APIKey(parsing: text)
            #expect(parsed?.id == key.id)
        }
        #expect(ids.count == count)
        #expect(secrets.count == count)

        // Each symbol's share within 20% of uniform: about 14 standard deviations for the id,
        // 14 for the secret, so a correct generator never fails and a biased one does.
        #expect(Set(idCounts.keys) == Self.base32)
        #expect(Set(secretCounts.keys) == Self.base62)
        let idExpected = Double(count * 12) / 32
        let secretExpected = Double(count * 32) / 62
        for (character, seen) in idCounts {
            #expect(abs(Double(seen) - idExpected) < idExpected * 0.2, "id symbol \(character): \(seen)")
        }
        for (character, seen) in secretCounts {
            #expect(abs(Double(seen) - secretExpected) < secretExpected * 0.2, "secret symbol \(character): \(seen)")
        }
    }

    @Test("the secret carries at least 128 bits")
    func secretStrength() {
        #expect(Double(APIKey.secretLength) * log2(62) >= 128)
        #expect(APIKey.idLength * 5 == 60)
    }

    @Test("any single-character change is rejected")
    func singleCharacterChanges() {
        let replacements = Array(Self.base62.union(Self.base32).union(["_", "-", " ", ".", "é", "\0"]))
        var generator = KeyTestRandom(seed: 1)
        var tried = 0
        var accepted: [String] = []
        for _ in 0..<20 {
            let text = Array(APIKey.generate(using: &generator).reveal())
            for position in text.indices {
                for replacement in replacements where replacement != text[position] {
                    var changed = text
                    changed[position] = replacement
                    tried += 1
                    if APIKey(parsing: String(changed)) != nil { accepted.append(String(changed)) }
                }
            }
        }
        #expect(tried > 50_000)
        #expect(accepted.isEmpty)
    }

    @Test("noise is rejected: structured look-alikes with wrong checksums, and arbitrary strings")
    func noise() {
        var generator = KeyTestRandom(seed: 42)
        let base32 = Array(Self.base32)
        let base62 = Array(Self.base62)
        func draw(_ alphabet: [Character], _ count: Int) -> String {
            String((0..<count).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        }
        var accepted = 0
        for _ in 0..<30_000 {
            let lookAlike = "mh_" + draw(base32, 12) + "_" + draw(base62, 38)
            if APIKey(parsing: lookAlike) != nil { accepted += 1 }
        }
        #expect(accepted == 0)

        let key = APIKey.generate().reveal()
        let arbitrary = [
            "", "mh_", "mh__", "Bearer " + key, " " + key, key + " ", key + "\n", key.uppercased(),
            "MH_" + key.dropFirst(3), "mh-" + key.dropFirst(3), String(key.dropLast()), key + "A",
            String(repeating: "a", count: 54), "sk_live_" + draw(base62, 46), draw(base62, 54),
            "mh_" + draw(base32, 12) + "_" + draw(base62, 37),
        ]
        for text in arbitrary {
            #expect(APIKey(parsing: text) == nil, "\(text) parsed")
        }
    }

    @Test("description, debugDescription, dump and interpolation never show the secret")
    func redaction() {
        let key = APIKey.generate()
        let parts = KeyParts(key.reveal())
        var dumped = ""
        dump(key, to: &dumped)
        let renderings = [
            key.description, key.debugDescription, "\(key)", String(describing: key), String(reflecting: key), dumped,
            "\([key])", "\(Optional(key) as Any)",
        ]
        for rendering in renderings {
            #expect(!rendering.contains(parts.secret), "\(rendering)")
            #expect(rendering.contains(key.id), "\(rendering)")
        }
        #expect(key.description == "mh_\(key.id)_…")
    }

    @Test("a seeded generator gives the same key; different seeds differ")
    func seededGeneration() {
        var first = KeyTestRandom(seed: 7)
        var second = KeyTestRandom(seed: 7)
        var third = KeyTestRandom(seed: 8)
        let a = APIKey.generate(using: &first).reveal()
        #expect(a == APIKey.generate(using: &second).reveal())
        #expect(a != APIKey.generate(using: &third).reveal())
    }

    @Test("id validation", arguments: [
        ("abcdefghijkl", true), ("234567abcdef", true), ("abcdefghijk", false), ("abcdefghijklm", false),
        ("ABCDEFGHIJKL", false), ("abcdefghijk1", false), ("abcdefghijk8", false), ("abcdefghijk_", false), ("", false),
    ])
    func idValidation(id: String, isValid: Bool) {
        #expect(APIKey.isValidID(id) == isValid)
    }
}
