#if canImport(Glibc)
import Glibc
#endif

/// The current time as RFC 3339 in UTC with milliseconds, `2026-12-03T07:21:04.123Z`, made
/// without a formatter.
enum LogTimestamp {
    /// Now.
    static func now() -> String {
        #if canImport(Glibc)
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return format(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec), millisecond: Int(time.tv_nsec / 1_000_000)
        )
        #else
        return "1970-01-01T00:00:00.000Z"
        #endif
    }

    /// The given moment, each field in range.
    static func format(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int) -> String {
        String(unsafeUninitializedCapacity: 24) { buffer in
            var index = 0
            func put(_ value: Int, digits: Int) {
                var divisor = 1
                for _ in 1..<digits { divisor *= 10 }
                var rest = value
                while divisor > 0 {
                    buffer[index] = UInt8(ascii: "0") + UInt8(rest / divisor % 10)
                    rest %= divisor
                    divisor /= 10
                    index += 1
                }
            }
            func put(_ byte: Unicode.Scalar) {
                buffer[index] = UInt8(ascii: byte)
                index += 1
            }
            put(year, digits: 4); put("-"); put(month, digits: 2); put("-"); put(day, digits: 2); put("T")
            put(hour, digits: 2); put(":"); put(minute, digits: 2); put(":"); put(second, digits: 2); put(".")
            put(millisecond, digits: 3); put("Z")
            return index
        }
    }
}
