import ModelHostCore
import Testing

@Suite("SemanticVersion")
struct SemanticVersionTests {
    struct Parsed: Sendable, CustomTestStringConvertible {
        var text: String
        var major: Int
        var minor: Int
        var patch: Int
        var prerelease: [String] = []
        var build: [String] = []

        var testDescription: String { text }
    }

    static let valid: [Parsed] = [
        Parsed(text: "1.0.0", major: 1, minor: 0, patch: 0),
        Parsed(text: "0.0.0", major: 0, minor: 0, patch: 0),
        Parsed(text: "10.20.30", major: 10, minor: 20, patch: 30),
        Parsed(text: "1.0.0-rc.1", major: 1, minor: 0, patch: 0, prerelease: ["rc", "1"]),
        Parsed(text: "1.0.0+build.5", major: 1, minor: 0, patch: 0, build: ["build", "5"]),
        Parsed(text: "1.0.0-alpha+001", major: 1, minor: 0, patch: 0, prerelease: ["alpha"], build: ["001"]),
        Parsed(text: "1.0.0-x-y.0", major: 1, minor: 0, patch: 0, prerelease: ["x-y", "0"]),
        Parsed(text: "2.3.4-rc.1+sha.5114f85", major: 2, minor: 3, patch: 4, prerelease: ["rc", "1"], build: ["sha", "5114f85"]),
    ]

    @Test("valid versions parse into their parts", arguments: valid)
    func parsesValid(_ expected: Parsed) throws {
        let version = try #require(SemanticVersion(expected.text))
        #expect(version.major == expected.major)
        #expect(version.minor == expected.minor)
        #expect(version.patch == expected.patch)
        #expect(version.prerelease == expected.prerelease)
        #expect(version.build == expected.build)
    }

    @Test(
        "invalid versions are refused",
        arguments: [
            "1.0", "01.0.0", "1.01.0", "1.0.01", "1.0.0-", "1.0.0-01", "1.0.0-rc.01", "v1.0.0", "", "1.0.0.0",
            "1.0.0+", "1.0.0-rc..1", "1.0.0+a..b", "1.0.0-rc_1", "1.0.0 ", " 1.0.0", "-1.0.0", "1.0.0+a+b",
            "a.b.c", "1..0", "١.٠.٠",
        ]
    )
    func refusesInvalid(_ text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    @Test("description gives back the text it was parsed from", arguments: valid.map(\.text))
    func descriptionRoundTrips(_ text: String) throws {
        let version = try #require(SemanticVersion(text))
        #expect(version.description == text)
        #expect(SemanticVersion(version.description)?.build == version.build)
    }

    @Test("description of a version built from parts")
    func descriptionFromParts() {
        #expect(SemanticVersion(major: 3, minor: 1, patch: 4).description == "3.1.4")
        #expect(SemanticVersion(major: 1, minor: 2, patch: 3, prerelease: ["beta", "2"], build: ["exp"]).description == "1.2.3-beta.2+exp")
    }

    /// semver.org's precedence example, in ascending order.
    static let precedence = [
        "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
        "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.9.0", "1.10.0", "2.0.0",
    ]

    @Test("each version in the semver.org precedence list is below the next", arguments: zip(precedence, precedence.dropFirst()))
    func orderedPairs(_ lower: String, _ higher: String) throws {
        let low = try #require(SemanticVersion(lower))
        let high = try #require(SemanticVersion(higher))
        #expect(low < high)
        #expect(!(high < low))
        #expect(low != high)
    }

    @Test("sorting a shuffled list gives the precedence order")
    func sorting() throws {
        let versions = try Self.precedence.map { try #require(SemanticVersion($0)) }
        var generator = SplitMix64(seed: 7)
        let shuffled = versions.shuffled(using: &generator)
        #expect(shuffled.sorted().map(\.description) == Self.precedence)
    }

    @Test("numeric parts compare as numbers, not text")
    func numericComparison() throws {
        #expect(try #require(SemanticVersion("1.9.0")) < #require(SemanticVersion("1.10.0")))
        #expect(try #require(SemanticVersion("9.0.0")) < #require(SemanticVersion("10.0.0")))
        #expect(try #require(SemanticVersion("1.0.9")) < #require(SemanticVersion("1.0.10")))
        // A numeric pre-release identifier is below an alphanumeric one.
        #expect(try #require(SemanticVersion("1.0.0-2")) < #require(SemanticVersion("1.0.0-a")))
        #expect(try #require(SemanticVersion("1.0.0-999")) < #require(SemanticVersion("1.0.0-1a")))
    }

    @Test("build metadata is ignored by equality, hashing and ordering")
    func buildMetadataIgnored() throws {
        let plain = try #require(SemanticVersion("1.0.0"))
        let built = try #require(SemanticVersion("1.0.0+build.5"))
        let other = try #require(SemanticVersion("1.0.0+other"))
        #expect(plain == built)
        #expect(built == other)
        #expect(Set([plain, built, other]).count == 1)
        #expect(!(plain < built) && !(built < plain))
        #expect(try #require(SemanticVersion("1.0.0-rc.1+a")) == #require(SemanticVersion("1.0.0-rc.1+b")))
        #expect(try #require(SemanticVersion("1.0.0-rc.1+a")) != #require(SemanticVersion("1.0.0-rc.2+a")))
    }

    @Test("a pre-release is below its release and a release is not below itself")
    func prereleaseBelowRelease() throws {
        let release = try #require(SemanticVersion("2.0.0"))
        let candidate = try #require(SemanticVersion("2.0.0-rc.1"))
        #expect(candidate < release)
        #expect(!(release < candidate))
        #expect(!(release < release))
        #expect(try #require(SemanticVersion("1.9.9")) < candidate)
    }
}

/// A small seeded generator so that shuffles are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
