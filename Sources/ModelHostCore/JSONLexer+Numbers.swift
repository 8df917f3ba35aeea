#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON number as the text writes it: `1` is an integer, `1.0` and `1e2` are doubles, and `-0`
/// is `-0.0`, as ``JSONValue`` keeps it.
enum JSONNumber: Hashable {
    /// A number written without a fraction or exponent that fits in `Int64`.
    case integer(Int64)
    /// A non-negative integer above `Int64.max`.
    case unsignedInteger(UInt64)
    /// Any other number.
    case double(Double)

    var jsonValue: JSONValue {
        switch self {
        case .integer(let value): .integer(value)
        case .unsignedInteger(let value): .unsignedInteger(value)
        case .double(let value): .double(value)
        }
    }

    var doubleValue: Double {
        switch self {
        case .integer(let value): Double(value)
        case .unsignedInteger(let value): Double(value)
        case .double(let value): value
        }
    }
}

extension JSONLexer {
    /// What the digits of one number said, before conversion.
    private struct NumberText {
        var start: Int
        var isNegative: Bool
        /// All significant digits while they fit; the value is mantissa × 10^exponent.
        var mantissa: UInt64 = 0
        var isMantissaExact = true
        var exponent = 0
        var isInteger = true
        /// Digits before and after the point, leading zeros included.
        var digitCount = 0
    }

    /// Exact powers of ten: a mantissa below 2^53 times or over one of them is correctly rounded.
    private static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Reads the number whose first byte (`-` or a digit) is at the cursor.
    ///
    /// - Parameter converting: When `false`, a number that is plainly finite is only checked, and
    ///   the returned value is meaningless; one that might be out of range is converted to find out.
    mutating func readNumber(converting: Bool = true) throws(JSONParseError) -> JSONNumber {
        let text = try scanNumber()
        if text.isInteger && text.isMantissaExact {
            if !text.isNegative {
                return text.mantissa <= UInt64(Int64.max) ? .integer(Int64(text.mantissa)) : .unsignedInteger(text.mantissa)
            }
            if text.mantissa == 0 { return .double(-0.0) }
            if text.mantissa <= Int64.min.magnitude { return .integer(Int64(truncatingIfNeeded: 0 &- text.mantissa)) }
        }
        // Clinger's fast path: both operands exact, so the one rounding is the correct one.
        if text.isMantissaExact && text.mantissa <= 1 << 53 && (-22...22).contains(text.exponent) {
            var magnitude = Double(text.mantissa)
            if text.exponent < 0 {
                magnitude /= Self.exactPowersOfTen[-text.exponent]
            } else {
                magnitude *= Self.exactPowersOfTen[text.exponent]
            }
            return .double(text.isNegative ? -magnitude : magnitude)
        }
        // Below 10^308, so below the largest double: nothing to check.
        if !converting && text.digitCount + text.exponent <= 308 { return .double(0) }
        let value = Self.correctlyRounded(UnsafeBufferPointer(rebasing: bytes[text.start..<index]))
        guard value.isFinite else {
            let written = String(decoding: UnsafeBufferPointer(rebasing: bytes[text.start..<index]), as: UTF8.self)
            let shown = written.utf8.count > 40 ? "\(written.prefix(40))…" : written
            throw JSONParseError(offset: text.start, message: "number \(shown) is out of range for a double")
        }
        return .double(value)
    }

    /// Reads the grammar of a number, leaving the cursor after it.
    private mutating func scanNumber() throws(JSONParseError) -> NumberText {
        var text = NumberText(start: index, isNegative: bytes[index] == UInt8(ascii: "-"))
        if text.isNegative { index += 1 }
        guard let first = digit(at: index) else {
            throw JSONParseError(offset: index, message: "expected a digit after '-', found \(describeCurrent())")
        }
        if first == 0 {
            index += 1
            text.digitCount = 1
            if digit(at: index) != nil {
                throw JSONParseError(offset: index - 1, message: "leading zeros are not allowed in numbers")
            }
        } else {
            while let value = digit(at: index) {
                accumulate(value, into: &text)
                index += 1
            }
        }
        if peek == UInt8(ascii: ".") {
            text.isInteger = false
            index += 1
            guard digit(at: index) != nil else {
                throw JSONParseError(offset: index, message: "expected a digit after '.', found \(describeCurrent())")
            }
            while let value = digit(at: index) {
                accumulate(value, into: &text)
                text.exponent -= 1
                index += 1
            }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            text.isInteger = false
            index += 1
            let isExponentNegative = peek == UInt8(ascii: "-")
            if isExponentNegative || peek == UInt8(ascii: "+") { index += 1 }
            guard digit(at: index) != nil else {
                throw JSONParseError(offset: index, message: "expected a digit in the exponent, found \(describeCurrent())")
            }
            var written = 0
            while let value = digit(at: index) {
                if written < 1_000_000 { written = written * 10 + Int(value) }  // Saturates; only the fast paths read it.
                index += 1
            }
            text.exponent += isExponentNegative ? -written : written
        }
        return text
    }

    private func digit(at offset: Int) -> UInt8? {
        guard offset < bytes.count else { return nil }
        let value = bytes[offset] &- UInt8(ascii: "0")
        return value < 10 ? value : nil
    }

    private func accumulate(_ digit: UInt8, into text: inout NumberText) {
        text.digitCount += 1
        guard text.isMantissaExact else { return }
        let (times10, overflow1) = text.mantissa.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
        if overflow1 || overflow2 {
            text.isMantissaExact = false
        } else {
            text.mantissa = sum
        }
    }

    /// The double nearest to grammatical number text, as `Double(String)` gives it, without
    /// making a `String`: the C library's `strtod`, read in the C locale so that the decimal point
    /// is `.` whatever locale the process has set.
    private static func correctlyRounded(_ text: UnsafeBufferPointer<UInt8>) -> Double {
        guard let locale = CNumericLocale.shared.handle else {
            return Double(String(decoding: text, as: UTF8.self)) ?? .nan
        }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { terminated in
            for offset in 0..<text.count {
                terminated[offset] = CChar(bitPattern: text[offset])
            }
            terminated[text.count] = 0
            let previous = uselocale(locale)
            defer { uselocale(previous) }
            return strtod(terminated.baseAddress!, nil)
        }
    }
}

/// The C locale's numeric rules, made once for ``JSONLexer``'s conversions.
///
/// `locale_t` is a pointer, so not `Sendable`. This one is created once, never changed and never
/// freed; the C library reads a locale object without writing it, and allows the same object to be
/// installed with `uselocale` on any number of threads at once, each for its own thread only.
/// Hence `@unchecked Sendable`.
private struct CNumericLocale: @unchecked Sendable {
    let handle: locale_t?

    static let shared = CNumericLocale(handle: newlocale(LC_NUMERIC_MASK | LC_CTYPE_MASK, "C", nil))
}
