import Testing

@testable import AnomalyDetectorModel

@Suite("TransactionTimestamp")
struct TransactionTimestampTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        let text: String
        let fields: [Int]  // year, month, day, hour, minute, second, nanosecond, UTC offset in minutes
        var testDescription: String { text }
    }

    @Test("valid timestamps parse to the fields as written", arguments: [
        Valid(text: "2026-03-14T02:13:00Z", fields: [2026, 3, 14, 2, 13, 0, 0, 0]),
        Valid(text: "2026-03-14T02:13:00+01:00", fields: [2026, 3, 14, 2, 13, 0, 0, 60]),
        Valid(text: "2026-03-14T23:59:59-05:30", fields: [2026, 3, 14, 23, 59, 59, 0, -330]),
        Valid(text: "2026-03-14T00:00:00-00:00", fields: [2026, 3, 14, 0, 0, 0, 0, 0]),
        Valid(text: "2026-03-14T02:13:00.5Z", fields: [2026, 3, 14, 2, 13, 0, 500_000_000, 0]),
        Valid(text: "2026-03-14T02:13:00.123+14:00", fields: [2026, 3, 14, 2, 13, 0, 123_000_000, 840]),
        Valid(text: "2026-03-14T02:13:00.1234567891234Z", fields: [2026, 3, 14, 2, 13, 0, 123_456_789, 0]),
        Valid(text: "2024-02-29T12:00:00Z", fields: [2024, 2, 29, 12, 0, 0, 0, 0]),
        Valid(text: "2000-02-29T12:00:00Z", fields: [2000, 2, 29, 12, 0, 0, 0, 0]),
        Valid(text: "2026-12-31T23:00:00+23:59", fields: [2026, 12, 31, 23, 0, 0, 0, 1439]),
    ])
    func valid(_ valid: Valid) throws {
        let timestamp = try TransactionTimestamp(parsing: valid.text)
        let fields = [
            timestamp.year, timestamp.month, timestamp.day, timestamp.hour, timestamp.minute, timestamp.second,
            timestamp.nanosecond, timestamp.utcOffsetMinutes,
        ]
        #expect(fields == valid.fields)
    }

    @Test("the hour is the local hour written, not converted to UTC")
    func localHour() throws {
        #expect(try TransactionTimestamp(parsing: "2026-03-14T02:13:00+01:00").hour == 2)
        #expect(try TransactionTimestamp(parsing: "2026-03-14T22:13:00-05:00").hour == 22)
    }

    @Test("invalid timestamps are rejected with the reason", arguments: [
        ("2026-13-01T00:00:00Z", "month 13"),
        ("2026-00-10T00:00:00Z", "month 0"),
        ("2026-03-00T00:00:00Z", "day 0"),
        ("2026-04-31T00:00:00Z", "day 31"),
        ("2025-02-29T00:00:00Z", "day 29"),
        ("1900-02-29T00:00:00Z", "day 29"),
        ("2026-03-14T24:00:00Z", "hour 24"),
        ("2026-03-14T12:60:00Z", "minute 60"),
        ("2026-03-14T12:00:60Z", "second 60"),
        ("2026-03-14T12:00:00", "missing time zone"),
        ("2026-03-14T12:00:00+0100", "expected \":\""),
        ("2026-03-14T12:00:00+24:00", "offset hour 24"),
        ("2026-03-14T12:00:00+01:60", "offset minute 60"),
        ("2026-03-14T12:00:00.Z", "digits after the decimal point"),
        ("2026-03-14T12:00:00,5Z", "expected \"Z\""),
        ("2026-03-14T12:00:00Z ", "after the time zone"),
        ("2026-03-14T12:00:00ZZ", "after the time zone"),
        ("2026-03-14 12:00:00Z", "expected \"T\""),
        ("2026-03-14t12:00:00z", "expected \"T\""),
        ("2026-03-14T12:00:00z", "expected \"Z\""),
        ("2026-3-14T12:00:00Z", "month"),
        ("26-03-14T12:00:00Z", "year"),
        ("+2026-03-14T12:00:00Z", "year"),
        ("２０２６-03-14T12:00:00Z", "year"),
        ("2026-03-14", "expected \"T\""),
        ("2026-03-14T12:00Z", "expected \":\""),
        ("garbage", "year"),
        ("", "year"),
    ])
    func invalid(text: String, reason: String) {
        let error = #expect(throws: TransactionTimestamp.ParseError.self) { try TransactionTimestamp(parsing: text) }
        #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error") lacks \(reason)")
    }

    @Test("days per month follow the Gregorian calendar")
    func daysInMonth() {
        #expect((1...12).map { TransactionTimestamp.daysIn(month: $0, year: 2026) } == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        #expect(TransactionTimestamp.daysIn(month: 2, year: 2024) == 29)
        #expect(TransactionTimestamp.daysIn(month: 2, year: 2100) == 28)
        #expect(TransactionTimestamp.daysIn(month: 2, year: 2000) == 29)
    }
}
