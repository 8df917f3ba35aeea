import Foundation

extension AnomalyModel {
    /// Why an artifact is not a usable model.
    struct ArtifactError: Error, Sendable, Hashable, CustomStringConvertible {
        /// What is wrong, naming the field.
        let reason: String

        var description: String { reason }
    }

    /// The artifact format version this plugin reads.
    static let formatVersion = 1

    /// Loads the model from the JSON artifact `Scripts/train-anomaly-detector` writes.
    ///
    /// Keys the model does not use (the formula's text, counts, sources) are ignored; every value it
    /// does use is checked: finite numbers, non-negative spreads, 24 positive hour frequencies per
    /// profile, time buckets covering each hour exactly once and statistics for each bucket.
    ///
    /// - Parameter data: The artifact's bytes.
    /// - Throws: ``ArtifactError`` naming the first problem.
    init(artifact data: Data) throws(ArtifactError) {
        let artifact: Artifact
        do {
            artifact = try JSONDecoder().decode(Artifact.self, from: data)
        } catch let error as DecodingError {
            throw ArtifactError(reason: Self.describe(error))
        } catch {
            throw ArtifactError(reason: "cannot be decoded: \(error)")
        }
        guard artifact.formatVersion == Self.formatVersion else {
            throw ArtifactError(reason: "formatVersion is \(artifact.formatVersion); this plugin reads \(Self.formatVersion)")
        }

        let scoring = artifact.scoring
        try Self.check(scoring.madScale, "scoring.madScale", scoring.madScale > 0)
        try Self.check(scoring.madFloor, "scoring.madFloor", scoring.madFloor > 0)
        try Self.check(scoring.hourRarityWeight, "scoring.hourRarityWeight", scoring.hourRarityWeight >= 0)
        try Self.check(scoring.threshold, "scoring.threshold", true)

        var bucketOfHour = [Int?](repeating: nil, count: 24)
        for (index, bucket) in artifact.timeBuckets.enumerated() {
            guard 0 <= bucket.firstHour, bucket.firstHour <= bucket.lastHour, bucket.lastHour <= 23 else {
                throw ArtifactError(reason: "timeBuckets[\(index)] has hours \(bucket.firstHour)-\(bucket.lastHour), not a range within 0-23")
            }
            for hour in bucket.firstHour...bucket.lastHour {
                guard bucketOfHour[hour] == nil else {
                    throw ArtifactError(reason: "timeBuckets: hour \(hour) is in more than one bucket")
                }
                bucketOfHour[hour] = index
            }
        }
        if let hour = bucketOfHour.firstIndex(of: nil) {
            throw ArtifactError(reason: "timeBuckets: hour \(hour) is in no bucket")
        }
        let bucketNames = artifact.timeBuckets.map(\.name)
        guard Set(bucketNames).count == bucketNames.count else {
            throw ArtifactError(reason: "timeBuckets: bucket names are not unique")
        }

        let globalLocation = try Self.location(artifact.global.location, at: "global.location")
        let fallback = Profile(
            locations: Array(repeating: globalLocation, count: bucketNames.count),
            hourRarity: try Self.hourRarity(artifact.global.hourFrequency, at: "global.hourFrequency")
        )
        var profiles: [String: Profile] = [:]
        for (category, entry) in artifact.categories {
            let path = "categories.\(category)"
            let unknown = Set(entry.buckets.keys).subtracting(bucketNames)
            if let name = unknown.sorted().first {
                throw ArtifactError(reason: "\(path).buckets has \"\(name)\", which is not a time bucket")
            }
            let locations = try bucketNames.map { name throws(ArtifactError) in
                guard let location = entry.buckets[name] else {
                    throw ArtifactError(reason: "\(path).buckets lacks the time bucket \"\(name)\"")
                }
                return try Self.location(location, at: "\(path).buckets.\(name)")
            }
            profiles[category] = Profile(
                locations: locations,
                hourRarity: try Self.hourRarity(entry.hourFrequency, at: "\(path).hourFrequency")
            )
        }

        self.init(
            threshold: scoring.threshold,
            hourRarityWeight: scoring.hourRarityWeight,
            madScale: scoring.madScale,
            madFloor: scoring.madFloor,
            bucketNames: bucketNames,
            bucketOfHour: bucketOfHour.map { $0! },
            profiles: profiles,
            fallback: fallback
        )
    }

    /// Loads the model from an artifact file.
    ///
    /// - Throws: ``ArtifactError`` when the file cannot be read or is not a valid artifact.
    init(contentsOf url: URL) throws(ArtifactError) {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ArtifactError(reason: "does not exist")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ArtifactError(reason: "cannot be read: \(error.localizedDescription)")
        }
        try self.init(artifact: data)
    }

    private static func check(_ value: Double, _ path: String, _ isValid: Bool) throws(ArtifactError) {
        guard value.isFinite, isValid else {
            throw ArtifactError(reason: "\(path) is \(value), out of range")
        }
    }

    private static func location(_ location: Artifact.Location, at path: String) throws(ArtifactError) -> Location {
        try check(location.median, "\(path).median", true)
        try check(location.mad, "\(path).mad", location.mad >= 0)
        return Location(median: location.median, mad: location.mad)
    }

    private static func hourRarity(_ frequencies: [Double], at path: String) throws(ArtifactError) -> [Double] {
        guard frequencies.count == 24 else {
            throw ArtifactError(reason: "\(path) has \(frequencies.count) entries, not 24")
        }
        for (hour, frequency) in frequencies.enumerated() {
            try check(frequency, "\(path)[\(hour)]", frequency > 0 && frequency <= 1)
        }
        return frequencies.map { hourRarity(frequency: $0) }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var path = ""
            for key in keys {
                if let index = key.intValue {
                    path += "[\(index)]"
                } else {
                    path += (path.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return path
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "lacks \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type: \(context.debugDescription)"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "cannot be decoded: \(error)"
        }
    }
}

/// The artifact's JSON, as far as the model uses it.
private struct Artifact: Decodable {
    struct Scoring: Decodable {
        let madScale: Double
        let madFloor: Double
        let hourRarityWeight: Double
        let threshold: Double
    }

    struct TimeBucket: Decodable {
        let name: String
        let firstHour: Int
        let lastHour: Int
    }

    struct Location: Decodable {
        let median: Double
        let mad: Double
    }

    struct Global: Decodable {
        let location: Location
        let hourFrequency: [Double]
    }

    struct Category: Decodable {
        let buckets: [String: Location]
        let hourFrequency: [Double]
    }

    let formatVersion: Int
    let scoring: Scoring
    let timeBuckets: [TimeBucket]
    let global: Global
    let categories: [String: Category]
}
