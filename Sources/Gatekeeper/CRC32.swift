/// CRC-32 (IEEE 802.3, the polynomial of zlib and PNG), used as the checksum in an ``APIKey``.
///
/// The checksum lets a secret scanner, or the server before any lookup, tell a real key from a
/// string that merely looks like one. It is not a security measure: anyone can compute it.
enum CRC32 {
    /// The byte-at-a-time lookup table for the reflected polynomial `0xEDB88320`.
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1
        }
        return value
    }

    /// The CRC-32 of `bytes`; `"123456789"` gives `0xCBF43926`.
    static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }
}
