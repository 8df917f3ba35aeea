#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant to the millisecond, as a log line stamps it.
///
/// Formatted by arithmetic into RFC 3339 UTC (`2026-12-03T07:21:04.123Z`): no formatter, no
/// allocation, no time-zone lookup, since every request's line carries one.
struct LogTimestamp: Hashable, Sendable {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    var seconds: Int64
    /// Milliseconds past `seconds`, 0...999.
    var milliseconds: Int

    init(seconds: Int64, milliseconds: Int) {
        self.seconds = seconds
        self.milliseconds = milliseconds
    }

    /// The current time of the system's real-time clock.
    static func now() -> LogTimestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return LogTimestamp(seconds: Int64(time.tv_sec), milliseconds: Int(time.tv_nsec / 1_000_000))
    }

    /// The 24 bytes of the RFC 3339 form, appended to `bytes`. Years outside 0...9999 are clamped,
    /// which no real clock reaches.
    func append(to bytes: inout [UInt8]) {
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days)
        appendDecimal(UInt(min(max(year, 0), 9999)), minimumDigits: 4, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDecimal(UInt(month), minimumDigits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "-"))
        appendDecimal(UInt(day), minimumDigits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        appendDecimal(UInt(secondOfDay / 3600), minimumDigits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDecimal(UInt(secondOfDay / 60 % 60), minimumDigits: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        appendDecimal(UInt(secondOfDay % 60), minimumDigits: 2, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        appendDecimal(UInt(milliseconds), minimumDigits: 3, to: &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    /// The RFC 3339 form as a string.
    var rfc3339: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The proleptic Gregorian date of a day counted from 1970-01-01.
    ///
    /// Counts from 0000-03-01 in 400-year eras of 146,097 days, so that the leap day ends each
    /// year and every month's start follows from the day of the year by one linear formula.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468  // days from 0000-03-01 to 1970-01-01
        let (era, dayOfEra) = floorDivision(shifted, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (Int(year), Int(month), Int(day))
    }
}

/// Quotient and remainder rounded towards negative infinity, so the remainder is never negative.
private func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
    let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    return (quotient, value - quotient * divisor)
}

/// Appends `value` in decimal digits, zero-padded to at least `minimumDigits`: the one way log
/// lines write a whole number, in their time stamps and in their fields.
func appendDecimal(_ value: UInt, minimumDigits: Int, to bytes: inout [UInt8]) {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
        var rest = value
        var start = digits.count
        repeat {
            start -= 1
            digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest > 0 || (digits.count - start < minimumDigits && start > 0)
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
    }
}
