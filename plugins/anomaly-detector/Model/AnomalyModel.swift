import Foundation

/// The fitted anomaly model: robust statistics of ln(amount) per merchant category and time of
/// day, and how rare each hour of day is for each category.
///
/// A transaction's score is
///
/// ```
/// score = |ln(amount) - median| / (madScale * max(mad, madFloor))
///       + hourRarityWeight * max(0, -ln(24 * p(hour | category)))
/// ```
///
/// The first term is the robust z-score of ln(amount) against the median and MAD of the
/// transaction's (category, time bucket) cell; `madScale` (1.4826) makes the MAD estimate a
/// standard deviation. The second, the hour rarity, is 0 for an hour at least as frequent for the
/// category as a uniform 1/24, and grows by ln(2) each time the hour's frequency halves below that.
/// The hour is the local hour written in the timestamp. A transaction is anomalous when its score is
/// at least ``threshold``.
///
/// The artifact, written by `Scripts/train-anomaly-detector`, has every fallback resolved already:
/// a sparse cell holds its category's statistics, a sparse category the global ones. A category the
/// artifact does not know is scored with the global statistics (``fallback``).
struct AnomalyModel: Sendable {
    /// The centre and spread of ln(amount) in one (category, time bucket) cell.
    struct Location: Sendable, Hashable {
        /// The median of ln(amount).
        let median: Double
        /// The median absolute deviation of ln(amount) from ``median``.
        let mad: Double
    }

    /// What the model knows about one merchant category.
    struct Profile: Sendable, Hashable {
        /// The location of ln(amount) for each time bucket, in the artifact's bucket order.
        let locations: [Location]
        /// The hour-rarity term for each local hour 0-23: `max(0, -ln(24 * p(hour | category)))`.
        let hourRarity: [Double]
    }

    /// The score at and above which a transaction is anomalous.
    let threshold: Double
    /// The weight of the hour-rarity term.
    let hourRarityWeight: Double
    /// The factor that turns a MAD into an estimate of the standard deviation (1.4826).
    let madScale: Double
    /// The smallest MAD used, so that a cell whose amounts barely vary does not divide by zero.
    let madFloor: Double
    /// The names of the time buckets, in order.
    let bucketNames: [String]
    /// The index of the time bucket of each local hour 0-23.
    let bucketOfHour: [Int]
    /// The profiles of the categories the artifact knows.
    let profiles: [String: Profile]
    /// The global profile, used for categories the artifact does not know.
    let fallback: Profile

    /// The profile a category is scored with: its own, or ``fallback`` for an unknown category.
    func profile(for category: String) -> Profile {
        profiles[category] ?? fallback
    }

    /// The anomaly score of one transaction.
    ///
    /// - Parameters:
    ///   - amount: The amount, positive and finite.
    ///   - hour: The local hour of day, 0-23.
    ///   - category: The merchant category; an unknown one is scored with the global statistics.
    /// - Returns: The score; at least ``threshold`` means anomalous.
    func score(amount: Double, hour: Int, category: String) -> Double {
        assert(amount > 0 && amount.isFinite && (0..<24).contains(hour), "TransactionBatch validates amounts and hours")
        let profile = profile(for: category)
        let location = profile.locations[bucketOfHour[hour]]
        let deviation = abs(log(amount) - location.median) / (madScale * max(location.mad, madFloor))
        return deviation + hourRarityWeight * profile.hourRarity[hour]
    }

    /// Whether a score marks a transaction as anomalous.
    func isAnomalous(score: Double) -> Bool {
        score >= threshold
    }

    /// The hour-rarity term of a smoothed hour-of-day frequency.
    static func hourRarity(frequency: Double) -> Double {
        max(0, -log(24 * frequency))
    }
}
