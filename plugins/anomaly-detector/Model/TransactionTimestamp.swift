/// A transaction's ISO-8601 (RFC 3339) timestamp, as written: local date and time plus UTC offset.
///
/// The accepted form is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with an upper-case `T` and `Z`,
/// for example `2026-03-14T02:13:00Z` or `2026-03-14T02:13:00.5+01:00`. Fields are range-checked,
/// the day against its month (leap years included); a leap second (`:60`) is rejected.
///
/// The parser reads the text itself rather than using a date formatter, so that ``hour`` is always
/// the local hour as written, whatever the offset, the machine's time zone or the platform.
struct TransactionTimestamp: Sendable, Hashable {
    /// The year, 0000 to 9999.
    let year: Int
    /// The month, 1 to 12.
    let month: Int
    /// The day of the month, 1 to 31.
    let day: Int
    /// The local hour as written, 0 to 23.
    let hour: Int
    /// The minute, 0 to 59.
    let minute: Int
    /// The second, 0 to 59.
    let second: Int
    /// The fraction of a second, in nanoseconds; digits past the ninth are ignored.
    let nanosecond: Int
    /// The offset from UTC in minutes (`Z` is 0), -1439 to 1439.
    let utcOffsetMinutes: Int

    /// Why a text is not a timestamp.
    struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, without the text itself.
        let reason: String

        var description: String { reason }
    }

    /// Parses a timestamp from its UTF-8 bytes.
    ///
    /// - Parameter bytes: The text, with nothing before or after the timestamp.
    /// - Throws: ``ParseError`` saying what is malformed or out of range.
    init(parsing bytes: some Collection<UInt8>) throws(ParseError) {
        var reader = Reader(bytes: Array(bytes))
        year = try reader.number(digits: 4, field: "year")
        try reader.expect(UInt8(ascii: "-"), after: "the year")
        month = try reader.number(digits: 2, field: "month", in: 1...12)
        try reader.expect(UInt8(ascii: "-"), after: "the month")
        day = try reader.number(digits: 2, field: "day", in: 1...Self.daysIn(month: month, year: year))
        try reader.expect(UInt8(ascii: "T"), after: "the date")
        hour = try reader.number(digits: 2, field: "hour", in: 0...23)
        try reader.expect(UInt8(ascii: ":"), after: "the hour")
        minute = try reader.number(digits: 2, field: "minute", in: 0...59)
        try reader.expect(UInt8(ascii: ":"), after: "the minute")
        second = try reader.number(digits: 2, field: "second", in: 0...59)
        nanosecond = try reader.fraction()
        utcOffsetMinutes = try reader.offset()
        guard reader.isAtEnd else {
            throw ParseError(reason: "unexpected characters after the time zone")
        }
    }

    /// Parses a timestamp from a string.
    ///
    /// - Throws: ``ParseError`` saying what is malformed or out of range.
    init(parsing text: String) throws(ParseError) {
        try self.init(parsing: text.utf8)
    }

    /// The number of days in a month of the proleptic Gregorian calendar.
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }
}

extension TransactionTimestamp {
    /// A cursor over the bytes of a timestamp.
    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        var isAtEnd: Bool { position == bytes.count }

        private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        private static func digitValue(_ byte: UInt8?) -> Int? {
            guard let byte, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            return Int(byte - UInt8(ascii: "0"))
        }

        mutating func number(digits: Int, field: String, in range: ClosedRange<Int>? = nil) throws(ParseError) -> Int {
            var value = 0
            for _ in 0..<digits {
                guard let digit = Self.digitValue(current) else {
                    throw ParseError(reason: "expected the \(digits)-digit \(field) at character \(position + 1)")
                }
                value = value * 10 + digit
                position += 1
            }
            if let range, !range.contains(value) {
                throw ParseError(reason: "\(field) \(value) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return value
        }

        mutating func expect(_ byte: UInt8, after what: String) throws(ParseError) {
            guard current == byte else {
                throw ParseError(reason: "expected \"\(Character(Unicode.Scalar(byte)))\" after \(what) at character \(position + 1)")
            }
            position += 1
        }

        /// An optional `.` and one or more digits, as nanoseconds.
        mutating func fraction() throws(ParseError) -> Int {
            guard current == UInt8(ascii: ".") else { return 0 }
            position += 1
            var nanoseconds = 0
            var count = 0
            while let digit = Self.digitValue(current) {
                if count < 9 { nanoseconds = nanoseconds * 10 + digit }
                count += 1
                position += 1
            }
            guard count > 0 else {
                throw ParseError(reason: "expected digits after the decimal point at character \(position + 1)")
            }
            for _ in count..<max(count, 9) { nanoseconds *= 10 }
            return nanoseconds
        }

        /// `Z` or `±HH:MM`, in minutes.
        mutating func offset() throws(ParseError) -> Int {
            switch current {
            case UInt8(ascii: "Z"):
                position += 1
                return 0
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = current == UInt8(ascii: "-") ? -1 : 1
                position += 1
                let hours = try number(digits: 2, field: "offset hour", in: 0...23)
                try expect(UInt8(ascii: ":"), after: "the offset hour")
                let minutes = try number(digits: 2, field: "offset minute", in: 0...59)
                return sign * (hours * 60 + minutes)
            case nil:
                throw ParseError(reason: "missing time zone: expected \"Z\" or \"+HH:MM\" / \"-HH:MM\" at the end")
            default:
                throw ParseError(reason: "expected \"Z\" or an offset like \"+01:00\" at character \(position + 1)")
            }
        }
    }
}
