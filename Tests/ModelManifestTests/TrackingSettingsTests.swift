import Foundation
import ModelHostCore
import ModelManifest
import Testing

@Suite("Tracking settings")
struct TrackingSettingsTests {
    /// The minimal manifest with outputs of every kind tracking can watch, and `tracking` set.
    static func manifest(tracking: Any?) -> [String: Any] {
        var object = ManifestFixture.minimal
        object["outputs"] = [
            ["name": "intent", "datatype": "BYTES", "shape": [-1]],
            ["name": "confidence", "datatype": "FP32", "shape": [-1]],
            ["name": "flag", "datatype": "BOOL", "shape": [-1]],
            ["name": "count", "datatype": "INT64", "shape": [-1]],
        ]
        if let tracking { object["tracking"] = tracking }
        return object
    }

    static var intent: [String: Any] { ["name": "intent", "kind": "categorical", "classes": ["balance", "transfer"]] }
    static var confidence: [String: Any] { ["name": "confidence", "kind": "numeric", "bounds": [0.5, 0.7, 0.9]] }

    static func tracking(_ outputs: [[String: Any]], _ extra: [String: Any] = [:]) -> [String: Any] {
        ["outputs": outputs].merging(extra) { $1 }
    }

    @Test("a full section is read: settings, classes, bounds and baselines")
    func valid() throws {
        var intent = Self.intent
        intent["baseline"] = [0.6, 0.4]
        var confidence = Self.confidence
        confidence["baseline"] = [0.1, 0.2, 0.3, 0.4]
        let section = Self.tracking([intent, confidence], ["window": 500, "minimumCount": 50, "psiThreshold": 0.25])
        let tracking = try #require(try ManifestFixture.parse(Self.manifest(tracking: section)).tracking)
        #expect(tracking.window == 500)
        #expect(tracking.minimumCount == 50)
        #expect(tracking.psiThreshold == 0.25)
        #expect(tracking.outputs == [
            TrackedOutput(name: "intent", kind: .categorical(classes: ["balance", "transfer"]), baseline: [0.6, 0.4]),
            TrackedOutput(name: "confidence", kind: .numeric(bounds: [0.5, 0.7, 0.9]), baseline: [0.1, 0.2, 0.3, 0.4]),
        ])
        #expect(tracking.output(named: "confidence")?.isCategorical == false)
        #expect(tracking.output(named: "flag") == nil)
    }

    @Test("settings default to a window of 1000, a minimum of 100 and a threshold of 0.2; no section is nil")
    func defaults() throws {
        let tracking = try #require(try ManifestFixture.parse(Self.manifest(tracking: Self.tracking([Self.confidence]))).tracking)
        #expect(tracking == TrackingSettings(window: 1000, minimumCount: 100, psiThreshold: 0.2, outputs: tracking.outputs))
        #expect(tracking.outputs.first?.baseline == nil)
        #expect(try ManifestFixture.parse(Self.manifest(tracking: nil)).tracking == nil)
        #expect(try ManifestFixture.parse(Self.manifest(tracking: NSNull())).tracking == nil)
    }

    @Test("a BOOL output is categorical with classes false and true unless it names them")
    func booleanClasses() throws {
        let section = Self.tracking([["name": "flag", "kind": "categorical", "baseline": [0.9, 0.1]]])
        let output = try #require(try ManifestFixture.parse(Self.manifest(tracking: section)).tracking?.outputs.first)
        #expect(output.kind == .categorical(classes: ["false", "true"]))
        #expect(output.binLabels == ["false", "true", "other"])
        #expect(output.baselineFractions == [0.9, 0.1, 0])

        let named = Self.tracking([["name": "flag", "kind": "categorical", "classes": ["true"]]])
        let onlyTrue = try #require(try ManifestFixture.parse(Self.manifest(tracking: named)).tracking?.outputs.first)
        #expect(onlyTrue.kind == .categorical(classes: ["true"]))
    }

    @Test("integer outputs may be numeric; a categorical baseline may include other")
    func integerAndOther() throws {
        let section = Self.tracking([
            ["name": "count", "kind": "numeric", "bounds": [0, 10, 100]],
            ["name": "intent", "kind": "categorical", "classes": ["a", "b"], "baseline": [0.5, 0.25, 0.25]],
        ])
        let tracking = try #require(try ManifestFixture.parse(Self.manifest(tracking: section)).tracking)
        #expect(tracking.outputs[0].kind == .numeric(bounds: [0, 10, 100]))
        #expect(tracking.outputs[1].baselineFractions == [0.5, 0.25, 0.25])
    }

    @Test("bin labels: classes then other; upper bounds as Prometheus le values, then +Inf")
    func binLabels() {
        let categorical = TrackedOutput(name: "i", kind: .categorical(classes: ["a", "b"]))
        #expect(categorical.binLabels == ["a", "b", "other"])
        #expect(categorical.binCount == 3)
        let numeric = TrackedOutput(name: "s", kind: .numeric(bounds: [-2, 0.5, 1, 2.25, 1e-05, 1e6]))
        #expect(numeric.binLabels == ["-2", "0.5", "1", "2.25", "1e-05", "1000000", "+Inf"])
        #expect(numeric.binCount == 7)
    }

    @Test("a baseline of the wrong length gives no fractions")
    func mismatchedBaseline() {
        #expect(TrackedOutput(name: "s", kind: .numeric(bounds: [1]), baseline: [1]).baselineFractions == nil)
        #expect(TrackedOutput(name: "s", kind: .numeric(bounds: [1]), baseline: [0.5, 0.5]).baselineFractions == [0.5, 0.5])
        #expect(TrackedOutput(name: "s", kind: .numeric(bounds: [1])).baselineFractions == nil)
    }

    /// A `tracking` section that is invalid, and the error it must produce.
    struct Bad: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var path: String
        var message: String
        var section: @Sendable () -> Any
    }

    static let bad: [Bad] = [
        Bad(testDescription: "unknown key", path: "tracking.windowSize", message: "unknown key") {
            tracking([confidence], ["windowSize": 10])
        },
        Bad(testDescription: "not an object", path: "tracking", message: "must be an object") { [1] },
        Bad(testDescription: "window 9", path: "tracking.window", message: "between 10 and 1000000") { tracking([confidence], ["window": 9]) },
        Bad(testDescription: "window too large", path: "tracking.window", message: "between 10") { tracking([confidence], ["window": 1_000_001]) },
        Bad(testDescription: "minimumCount 0", path: "tracking.minimumCount", message: "between 1 and window (1000)") {
            tracking([confidence], ["minimumCount": 0])
        },
        Bad(testDescription: "minimumCount above window", path: "tracking.minimumCount", message: "between 1 and window (50)") {
            tracking([confidence], ["window": 50, "minimumCount": 51])
        },
        Bad(testDescription: "psiThreshold 0", path: "tracking.psiThreshold", message: "greater than 0") { tracking([confidence], ["psiThreshold": 0]) },
        Bad(testDescription: "psiThreshold negative", path: "tracking.psiThreshold", message: "greater than 0") {
            tracking([confidence], ["psiThreshold": -0.1])
        },
        Bad(testDescription: "no outputs key", path: "tracking.outputs", message: "is required") { ["window": 100] },
        Bad(testDescription: "no outputs", path: "tracking.outputs", message: "at least one") { tracking([]) },
        Bad(testDescription: "undeclared output", path: "tracking.outputs[0].name", message: "\"score\" is not a declared output") {
            tracking([["name": "score", "kind": "numeric", "bounds": [1]]])
        },
        Bad(testDescription: "output tracked twice", path: "tracking.outputs[1].name", message: "\"confidence\" is tracked twice") {
            tracking([confidence, confidence])
        },
        Bad(testDescription: "unknown output key", path: "tracking.outputs[0].buckets", message: "unknown key") {
            tracking([confidence.merging(["buckets": [1]]) { $1 }])
        },
        Bad(testDescription: "no kind", path: "tracking.outputs[0].kind", message: "is required") {
            tracking([["name": "confidence", "bounds": [1]]])
        },
        Bad(testDescription: "unknown kind", path: "tracking.outputs[0].kind", message: "\"categorical\", \"numeric\", not \"histogram\"") {
            tracking([["name": "confidence", "kind": "histogram", "bounds": [1]]])
        },
        Bad(testDescription: "categorical FP32", path: "tracking.outputs[0].kind", message: "BYTES or BOOL output; \"confidence\" is FP32") {
            tracking([["name": "confidence", "kind": "categorical", "classes": ["a"]]])
        },
        Bad(testDescription: "numeric BYTES", path: "tracking.outputs[1].kind", message: "numeric output") {
            tracking([confidence, ["name": "intent", "kind": "numeric", "bounds": [1]]])
        },
        Bad(testDescription: "numeric BOOL", path: "tracking.outputs[0].kind", message: "\"flag\" is BOOL") {
            tracking([["name": "flag", "kind": "numeric", "bounds": [0.5]]])
        },
        Bad(testDescription: "BYTES without classes", path: "tracking.outputs[0].classes", message: "is required") {
            tracking([["name": "intent", "kind": "categorical"]])
        },
        Bad(testDescription: "empty classes", path: "tracking.outputs[0].classes", message: "1 to 256 classes") {
            tracking([["name": "intent", "kind": "categorical", "classes": [String]()]])
        },
        Bad(testDescription: "257 classes", path: "tracking.outputs[0].classes", message: "1 to 256 classes") {
            tracking([["name": "intent", "kind": "categorical", "classes": (0...256).map { "c\($0)" }]])
        },
        Bad(testDescription: "duplicate class", path: "tracking.outputs[0].classes", message: "lists \"a\" twice") {
            tracking([["name": "intent", "kind": "categorical", "classes": ["a", "b", "a"]]])
        },
        Bad(testDescription: "class named other", path: "tracking.outputs[0].classes", message: "must not list \"other\"") {
            tracking([["name": "intent", "kind": "categorical", "classes": ["a", "other"]]])
        },
        Bad(testDescription: "BOOL class that is no BOOL value", path: "tracking.outputs[0].classes", message: "\"yes\" is not a BOOL value") {
            tracking([["name": "flag", "kind": "categorical", "classes": ["yes"]]])
        },
        Bad(testDescription: "bounds on a categorical output", path: "tracking.outputs[0].bounds", message: "numeric outputs only") {
            tracking([intent.merging(["bounds": [1]]) { $1 }])
        },
        Bad(testDescription: "classes on a numeric output", path: "tracking.outputs[0].classes", message: "categorical outputs only") {
            tracking([confidence.merging(["classes": ["a"]]) { $1 }])
        },
        Bad(testDescription: "no bounds", path: "tracking.outputs[0].bounds", message: "is required") {
            tracking([["name": "confidence", "kind": "numeric"]])
        },
        Bad(testDescription: "empty bounds", path: "tracking.outputs[0].bounds", message: "1 to 64 bounds") {
            tracking([["name": "confidence", "kind": "numeric", "bounds": [Double]()]])
        },
        Bad(testDescription: "65 bounds", path: "tracking.outputs[0].bounds", message: "1 to 64 bounds") {
            tracking([["name": "confidence", "kind": "numeric", "bounds": (0...64).map(Double.init)]])
        },
        Bad(testDescription: "descending bounds", path: "tracking.outputs[0].bounds", message: "strictly ascending") {
            tracking([["name": "confidence", "kind": "numeric", "bounds": [0.5, 0.4]]])
        },
        Bad(testDescription: "repeated bound", path: "tracking.outputs[0].bounds", message: "strictly ascending") {
            tracking([["name": "confidence", "kind": "numeric", "bounds": [0.5, 0.5]]])
        },
        Bad(testDescription: "bound not a number", path: "tracking.outputs[0].bounds[0]", message: "must be a number") {
            tracking([["name": "confidence", "kind": "numeric", "bounds": ["low"]]])
        },
        Bad(testDescription: "numeric baseline one short", path: "tracking.outputs[1].baseline", message: "one fraction per bin (4") {
            tracking([intent, confidence.merging(["baseline": [0.2, 0.3, 0.5]]) { $1 }])
        },
        Bad(testDescription: "categorical baseline too long", path: "tracking.outputs[0].baseline", message: "per class (2), or per class and \"other\" (3)") {
            tracking([intent.merging(["baseline": [0.25, 0.25, 0.25, 0.25]]) { $1 }])
        },
        Bad(testDescription: "negative fraction", path: "tracking.outputs[0].baseline", message: ">= 0") {
            tracking([intent.merging(["baseline": [1.2, -0.2]]) { $1 }])
        },
        Bad(testDescription: "fractions summing to 0.98", path: "tracking.outputs[0].baseline", message: "sum to 1") {
            tracking([intent.merging(["baseline": [0.58, 0.4]]) { $1 }])
        },
    ]

    @Test("an impossible tracking section is an error naming its path", arguments: bad)
    func refused(_ bad: Bad) throws {
        let data = try ManifestFixture.data(Self.manifest(tracking: bad.section()))
        let error = #expect(throws: ManifestError.self) { try Manifest.parse(data, file: "m.json") }
        #expect(error?.path == bad.path)
        #expect(error?.message.contains(bad.message) == true, "message: \(error?.message ?? "none")")
    }

    @Test("a baseline within 0.01 of summing to 1 is accepted")
    func baselineTolerance() throws {
        let section = Self.tracking([Self.intent.merging(["baseline": [0.6, 0.395]]) { $1 }])
        #expect(try ManifestFixture.parse(Self.manifest(tracking: section)).tracking?.outputs.first?.baseline == [0.6, 0.395])
    }
}
