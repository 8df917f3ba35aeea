import Foundation
import Testing

@testable import ModelHostLogging

@Suite struct LogTimestampTests {
    @Test(arguments: [
        (Int64(0), 0, "1970-01-01T00:00:00.000Z"),
        (Int64(1_796_282_464), 123, "2026-12-03T07:21:04.123Z"),
        (Int64(951_782_400), 5, "2000-02-29T00:00:00.005Z"),
        (Int64(951_868_799), 999, "2000-02-29T23:59:59.999Z"),
        (Int64(1_709_164_800), 42, "2024-02-29T00:00:00.042Z"),
        (Int64(4_107_542_399), 0, "2100-02-28T23:59:59.000Z"),
        (Int64(4_107_542_400), 0, "2100-03-01T00:00:00.000Z"),
        (Int64(-1), 999, "1969-12-31T23:59:59.999Z"),
        (Int64(253_402_300_799), 999, "9999-12-31T23:59:59.999Z"),
    ])
    func formatsAsRFC3339UTCWithMilliseconds(seconds: Int64, milliseconds: Int, expected: String) {
        #expect(LogTimestamp(seconds: seconds, milliseconds: milliseconds).rfc3339 == expected)
    }

    @Test func agreesWithFoundationAcrossTwoCenturies() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        var generator = SystemRandomNumberGenerator()
        // Every day's start for a few years around leap days, then random instants up to 2100.
        let days = (0..<2_000).map { Int64(10_950 + $0) * 86_400 }
        let random = (0..<2_000).map { _ in Int64.random(in: 0..<4_102_444_800, using: &generator) }
        for seconds in days + random {
            let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            let formatted = LogTimestamp(seconds: seconds, milliseconds: 0).rfc3339
            #expect(formatted == expected.dropLast() + ".000Z", "\(seconds)")
        }
    }
}
