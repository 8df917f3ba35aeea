import Foundation

/// The population stability index (PSI): how far a distribution over fixed bins has moved from a
/// reference distribution over the same bins.
///
/// With `e[i]` the reference's fraction in bin `i` and `a[i]` the recent one's,
///
///     PSI = Σ (a[i] − e[i]) · ln(a[i] / e[i])
///
/// Each term is at least 0 (both factors have the same sign), so PSI is 0 for identical
/// distributions and grows with every bin that moved. It is the symmetric Kullback–Leibler
/// divergence of the two. A fraction of exactly 0 is replaced by ``epsilon`` so that a bin empty
/// on one side gives a large but finite term.
///
/// The usual reading: below 0.1 the population is stable; 0.1 to 0.25 a moderate shift worth a
/// look; above 0.25 a major shift.
public enum PopulationStability {
    /// What a fraction of 0 counts as. Small against any fraction a window of up to a million
    /// holds (one element of 10,000 is 1e-4), large enough that `ln(a / e)` stays moderate.
    public static let epsilon = 1e-4

    /// The PSI of `recent` against `reference`.
    ///
    /// - Parameters:
    ///   - reference: The expected distribution, one count or fraction per bin; normalised here.
    ///   - recent: The observed distribution over the same bins; normalised here.
    /// - Returns: The index, at least 0; 0 when either side is empty (sums to 0).
    public static func index(reference: [Double], recent: [Double]) -> Double {
        precondition(reference.count == recent.count, "PSI compares distributions over the same bins")
        let referenceTotal = reference.reduce(0, +)
        let recentTotal = recent.reduce(0, +)
        guard referenceTotal > 0, recentTotal > 0 else { return 0 }
        var sum = 0.0
        for (expected, actual) in zip(reference, recent) {
            let e = fraction(expected, of: referenceTotal)
            let a = fraction(actual, of: recentTotal)
            sum += (a - e) * log(a / e)
        }
        return sum
    }

    private static func fraction(_ value: Double, of total: Double) -> Double {
        let share = max(0, value) / total
        return share == 0 ? epsilon : share
    }
}
