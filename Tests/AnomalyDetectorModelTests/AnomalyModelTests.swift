import Foundation
import Testing

@testable import AnomalyDetectorModel

@Suite("AnomalyModel")
struct AnomalyModelTests {
    static let artifactURL = TestSupport.artifactsDirectory.appendingPathComponent("anomaly-model.json")

    @Test("the shipped artifact loads with every category, bucket and hour")
    func shippedArtifact() throws {
        let model = try AnomalyModel(contentsOf: Self.artifactURL)
        #expect(model.bucketNames == ["night", "morning", "afternoon", "evening"])
        #expect(model.bucketOfHour == (0..<24).map { $0 / 6 })
        let categories = ["grocery", "restaurant", "fuel", "travel", "electronics", "online_retail", "utilities", "entertainment"]
        for category in categories {
            let profile = try #require(model.profiles[category], "\(category)")
            #expect(profile.locations.count == 4)
            #expect(profile.hourRarity.count == 24)
            #expect(profile.hourRarity.allSatisfy { $0 >= 0 && $0.isFinite })
        }
        #expect(model.threshold > 0)
        #expect(model.madScale == 1.4826)
    }

    @Test("the score is the robust z-score of ln(amount) plus the weighted hour rarity")
    func formula() throws {
        let model = try AnomalyModel(contentsOf: Self.artifactURL)
        let profile = try #require(model.profiles["restaurant"])
        let location = profile.locations[3]  // evening
        let amount = exp(location.median + 2 * 1.4826 * location.mad)
        let score = model.score(amount: amount, hour: 19, category: "restaurant")
        #expect(abs(score - (2 + model.hourRarityWeight * profile.hourRarity[19])) < 1e-9)
        #expect(AnomalyModel.hourRarity(frequency: 1.0 / 24) == 0)
        #expect(AnomalyModel.hourRarity(frequency: 0.5) == 0)
        #expect(abs(AnomalyModel.hourRarity(frequency: 1.0 / 48) - log(2)) < 1e-12)
    }

    @Test("a MAD below the floor is raised to it")
    func madFloor() {
        let location = AnomalyModel.Location(median: log(100), mad: 0)
        let profile = AnomalyModel.Profile(locations: Array(repeating: location, count: 4), hourRarity: Array(repeating: 0, count: 24))
        let model = AnomalyModel(
            threshold: 3, hourRarityWeight: 1, madScale: 1.4826, madFloor: 0.05, bucketNames: ["a", "b", "c", "d"],
            bucketOfHour: (0..<24).map { $0 / 6 }, profiles: ["flat": profile], fallback: profile
        )
        #expect(model.score(amount: 100, hour: 9, category: "flat") == 0)
        #expect(abs(model.score(amount: 100 * exp(0.05 * 1.4826), hour: 9, category: "flat") - 1) < 1e-9)
    }

    @Test("an invalid artifact is rejected, naming the field")
    func invalidArtifacts() throws {
        typealias Object = [String: Any]
        let cases: [(String, (inout Object) -> Void)] = [
            ("formatVersion is 2", { $0["formatVersion"] = 2 }),
            ("lacks scoring.threshold", { $0[scoring: "threshold"] = nil }),
            ("scoring.threshold has the wrong type", { $0[scoring: "threshold"] = "high" }),
            ("scoring.madFloor", { $0[scoring: "madFloor"] = 0 }),
            ("scoring.hourRarityWeight", { $0[scoring: "hourRarityWeight"] = -1 }),
            ("hour 18 is in no bucket", { $0["timeBuckets"] = ($0["timeBuckets"] as! [Any]).dropLast() as [Any] }),
            ("hour 5 is in more than one bucket", {
                var buckets = $0["timeBuckets"] as! [Object]
                buckets[1]["firstHour"] = 5
                $0["timeBuckets"] = buckets
            }),
            ("global.hourFrequency has 23 entries", {
                var global = $0["global"] as! Object
                global["hourFrequency"] = (global["hourFrequency"] as! [Any]).dropLast() as [Any]
                $0["global"] = global
            }),
            ("categories.grocery.hourFrequency[3]", { $0[category: "grocery", "hourFrequency"] = (0..<24).map { $0 == 3 ? 0.0 : 0.04 } }),
            ("categories.grocery.buckets lacks the time bucket \"night\"", {
                var buckets = $0[category: "grocery", "buckets"] as! Object
                buckets["night"] = nil
                $0[category: "grocery", "buckets"] = buckets
            }),
            ("categories.fuel.buckets.evening.mad", {
                var buckets = $0[category: "fuel", "buckets"] as! Object
                buckets["evening"] = ["median": 4.0, "mad": -0.1]
                $0[category: "fuel", "buckets"] = buckets
            }),
        ]
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.artifactURL)) as! Object
        for (expected, mutate) in cases {
            var artifact = original
            mutate(&artifact)
            let data = try JSONSerialization.data(withJSONObject: artifact)
            let error = #expect(throws: AnomalyModel.ArtifactError.self) { try AnomalyModel(artifact: data) }
            #expect(error?.reason.contains(expected) == true, "\(error?.reason ?? "no error") lacks \(expected)")
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    fileprivate subscript(scoring key: String) -> Any? {
        get { (self["scoring"] as? [String: Any])?[key] }
        set {
            var scoring = self["scoring"] as? [String: Any] ?? [:]
            scoring[key] = newValue
            self["scoring"] = scoring
        }
    }

    fileprivate subscript(category category: String, _ key: String) -> Any? {
        get { ((self["categories"] as? [String: Any])?[category] as? [String: Any])?[key] }
        set {
            var categories = self["categories"] as? [String: Any] ?? [:]
            var entry = categories[category] as? [String: Any] ?? [:]
            entry[key] = newValue
            categories[category] = entry
            self["categories"] = categories
        }
    }
}
