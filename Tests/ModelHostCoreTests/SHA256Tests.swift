import Foundation
import ModelHostCore
import Testing

@Suite("SHA256")
struct SHA256Tests {
    @Test(
        "FIPS 180-4 example messages",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ]
    )
    func fipsVectors(_ message: String, _ digest: String) {
        #expect(SHA256.hexDigest(of: Array(message.utf8)) == digest)
    }

    @Test("one million 'a'")
    func millionA() {
        let message = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hexDigest(of: message) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Byte `i` of the message is `(i * 7 + 3) % 256`; digests from Python's `hashlib.sha256`.
    @Test(
        "messages around the padding boundaries",
        arguments: [
            (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
            (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
            (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
            (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
            (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
            (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
            (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
            (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
        ]
    )
    func paddingBoundaries(_ length: Int, _ digest: String) {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(SHA256.hexDigest(of: message) == digest)
        // The same message through the contiguous-buffer path.
        var hash = SHA256()
        message.withUnsafeBytes { hash.update($0) }
        #expect(SHA256.hex(hash.finalize()) == digest)
    }

    /// Byte `i` is `i % 251`; the digest of 1000 such bytes is from `hashlib.sha256`.
    static let patterned = (0..<1000).map { UInt8($0 % 251) }
    static let patternedDigest = "4e4c294b331f7a2099a379bec34b9f9fc03dc46ab465d998f4d683da53487e6d"

    @Test(
        "streaming in uneven chunks gives the one-shot digest",
        arguments: [[1], [3, 61, 7], [63, 1, 64, 65], [200, 1, 1, 500], [999], [64, 64, 64], [0, 0, 17]]
    )
    func streamingSequence(_ chunkSizes: [Int]) {
        let message = Self.patterned
        #expect(SHA256.hexDigest(of: message) == Self.patternedDigest)
        for usesBuffers in [false, true] {
            var hash = SHA256()
            var offset = 0
            var round = 0
            while offset < message.count {
                let size = chunkSizes[round % chunkSizes.count]
                let chunk = message[offset..<min(offset + size, message.count)]
                // Alternate the two update paths when `usesBuffers` is set.
                if usesBuffers && round % 2 == 0 {
                    chunk.withUnsafeBytes { hash.update($0) }
                } else {
                    hash.update(chunk)
                }
                offset += chunk.count
                round += 1
            }
            #expect(SHA256.hex(hash.finalize()) == Self.patternedDigest, "usesBuffers: \(usesBuffers)")
        }
    }

    @Test("empty updates change nothing")
    func emptyUpdates() {
        var hash = SHA256()
        hash.update([UInt8]())
        [UInt8]().withUnsafeBytes { hash.update($0) }
        hash.update(Array("abc".utf8))
        [UInt8]().withUnsafeBytes { hash.update($0) }
        #expect(SHA256.hex(hash.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("finalize returns 32 bytes")
    func digestLength() {
        #expect(SHA256().finalize().count == 32)
    }

    @Test("hex writes lowercase pairs, leading zeros kept")
    func hex() {
        #expect(SHA256.hex([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        #expect(SHA256.hex([]) == "")
    }

    @Test("the digest of a file, read in chunks, is hashlib's")
    func fileDigest() throws {
        // 2,500,003 bytes: more than two of the reader's 1 MiB chunks.
        let contents = Data((0..<2_500_003).map { UInt8($0 % 251) })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString).bin")
        try contents.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try SHA256.hexDigest(ofFileAt: url.path) == "f7cc84e492f8a748e6e1311b78964650f778bd5b57139cc8087ab34409083ae2")
    }

    @Test("the digest of an empty file is the digest of nothing")
    func emptyFileDigest() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(UUID().uuidString).bin")
        try Data().write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try SHA256.hexDigest(ofFileAt: url.path) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("a missing file throws")
    func missingFile() {
        #expect(throws: (any Error).self) {
            try SHA256.hexDigest(ofFileAt: "/nonexistent/\(UUID().uuidString)")
        }
    }
}
