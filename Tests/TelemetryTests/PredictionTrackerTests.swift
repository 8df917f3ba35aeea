import Dispatch
import Foundation
import ModelHostCore
import ModelManifest
import Testing

@testable import Telemetry

/// Output tensors as a plugin returns them.
enum Outputs {
    static func strings(_ name: String, _ values: [String]) throws -> Tensor {
        try Tensor(name: name, shape: [values.count], strings: values)
    }

    static func bools(_ name: String, _ values: [Bool]) throws -> Tensor {
        try Tensor(name: name, datatype: .bool, shape: [values.count], data: values.map { $0 ? 1 : 0 })
    }

    static func fp32(_ name: String, _ values: [Float]) throws -> Tensor {
        try Tensor(name: name, datatype: .fp32, shape: [values.count], data: values.flatMap { bytes(of: $0.bitPattern) })
    }

    static func fp64(_ name: String, _ values: [Double]) throws -> Tensor {
        try Tensor(name: name, datatype: .fp64, shape: [values.count], data: values.flatMap { bytes(of: $0.bitPattern) })
    }

    static func int16(_ name: String, _ values: [Int16]) throws -> Tensor {
        try Tensor(name: name, datatype: .int16, shape: [values.count], data: values.flatMap { bytes(of: $0) })
    }

    static func uint8(_ name: String, _ values: [UInt8]) throws -> Tensor {
        try Tensor(name: name, datatype: .uint8, shape: [values.count], data: values)
    }

    private static func bytes<Integer: FixedWidthInteger>(of value: Integer) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}

@Suite struct PredictionTrackerTests {
    static let intents = ["balance", "transfer", "card_lost"]
    static let intentBaseline = [0.5, 0.3, 0.2]

    static func intentTracker(window: Int = 1000, minimumCount: Int = 100, baseline: [Double]? = intentBaseline) -> PredictionTracker {
        PredictionTracker(settings: TrackingSettings(
            window: window, minimumCount: minimumCount, psiThreshold: 0.2,
            outputs: [TrackedOutput(name: "intent", kind: .categorical(classes: intents), baseline: baseline)]
        ))
    }

    /// Records `count` intents drawn with `weights`, in calls of 1 to 8, and returns every change.
    static func recordIntents(_ tracker: PredictionTracker, count: Int, weights: [Double], using generator: inout SeededGenerator) throws -> [PredictionTracker.DriftChange] {
        var changes: [PredictionTracker.DriftChange] = []
        var recorded = 0
        while recorded < count {
            let size = min(Int.random(in: 1...8, using: &generator), count - recorded)
            let values = (0..<size).map { _ in intents[generator.index(weightedBy: weights)] }
            if let change = tracker.record([try Outputs.strings("intent", values)]) { changes.append(change) }
            recorded += size
        }
        return changes
    }

    @Test func aStreamDrawnLikeTheBaselineStaysUnderTheThreshold() throws {
        var generator = SeededGenerator(seed: 1)
        let tracker = Self.intentTracker()
        let changes = try Self.recordIntents(tracker, count: 5000, weights: Self.intentBaseline, using: &generator)
        #expect(changes.isEmpty)
        let output = try #require(tracker.snapshot.output(named: "intent"))
        #expect(output.referenceSource == .baseline)
        #expect(output.reference == [0.5, 0.3, 0.2, 0])
        #expect(output.windowCount == 1000)
        #expect(output.totalCounts.reduce(0, +) == 5000)
        let psi = try #require(output.psi)
        #expect(psi < 0.05, "PSI \(psi)")
        #expect(!output.isDrifting)
        #expect(!tracker.snapshot.isDrifting)
    }

    @Test func reweightedClassesStartDriftAndItClearsWhenTheyReturn() throws {
        var generator = SeededGenerator(seed: 2)
        let tracker = Self.intentTracker()
        #expect(try Self.recordIntents(tracker, count: 2000, weights: Self.intentBaseline, using: &generator).isEmpty)

        let shifted = try Self.recordIntents(tracker, count: 2000, weights: [0.2, 0.3, 0.5], using: &generator)
        #expect(shifted.count == 1)
        guard case .started(let output, let psi)? = shifted.first else {
            Issue.record("expected .started, got \(shifted)")
            return
        }
        #expect(output == "intent")
        #expect(psi >= 0.2)
        let snapshot = tracker.snapshot
        #expect(snapshot.isDrifting)
        #expect(try #require(snapshot.outputs.first?.psi) > 0.3)

        let back = try Self.recordIntents(tracker, count: 2000, weights: Self.intentBaseline, using: &generator)
        #expect(back.count == 1)
        guard case .cleared(let clearedOutput, let clearedPSI)? = back.first else {
            Issue.record("expected .cleared, got \(back)")
            return
        }
        #expect(clearedOutput == "intent")
        #expect(clearedPSI < 0.2)
        #expect(!tracker.snapshot.isDrifting)
    }

    @Test func movedScoresRaiseThePSIOverTheThreshold() throws {
        var generator = SeededGenerator(seed: 3)
        // Uniform scores on [0, 1) fall a fifth in each bin.
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 500, minimumCount: 100,
            outputs: [TrackedOutput(name: "confidence", kind: .numeric(bounds: [0.2, 0.4, 0.6, 0.8]), baseline: [0.2, 0.2, 0.2, 0.2, 0.2])]
        ))
        for _ in 0..<100 {
            let scores = (0..<10).map { _ in Float.random(in: 0..<1, using: &generator) }
            #expect(tracker.record([try Outputs.fp32("confidence", scores)]) == nil)
        }
        #expect(try #require(tracker.snapshot.outputs.first?.psi) < 0.05)

        var changes: [PredictionTracker.DriftChange] = []
        for _ in 0..<100 {
            let scores = (0..<10).map { _ in Float.random(in: 0.3..<1, using: &generator) }
            if let change = tracker.record([try Outputs.fp32("confidence", scores)]) { changes.append(change) }
        }
        #expect(changes.count == 1)
        if case .started(let output, let psi)? = changes.first {
            #expect(output == "confidence")
            #expect(psi >= 0.2)
        } else {
            Issue.record("expected .started, got \(changes)")
        }
        let output = try #require(tracker.snapshot.outputs.first)
        #expect(output.windowCounts[0] == 0)
        #expect(output.numeric?.count == 2000)
        #expect(output.numeric?.counts == output.totalCounts)
    }

    @Test func withoutABaselineTheFirstFullWindowIsTheReference() throws {
        let tracker = Self.intentTracker(window: 10, minimumCount: 5, baseline: nil)
        tracker.record([try Outputs.strings("intent", Array(repeating: "balance", count: 6) + ["transfer", "transfer"])])
        var output = try #require(tracker.snapshot.outputs.first)
        #expect(output.referenceSource == .pending)
        #expect(output.reference == nil)
        #expect(output.psi == nil)
        #expect(!output.isDrifting)

        // The window fills in the middle of this call: the reference is the window at that moment.
        tracker.record([try Outputs.strings("intent", ["card_lost", "unknown", "card_lost", "card_lost"])])
        output = try #require(tracker.snapshot.outputs.first)
        #expect(output.referenceSource == .firstWindow)
        #expect(output.reference == [0.6, 0.2, 0.1, 0.1])
        // The last two values pushed out the two oldest, both balance.
        #expect(output.windowCounts == [4, 2, 3, 1])
        let expected = PopulationStability.index(reference: [0.6, 0.2, 0.1, 0.1], recent: [0.4, 0.2, 0.3, 0.1])
        #expect(abs(try #require(output.psi) - expected) < 1e-12)
        #expect(output.isDrifting == (expected >= 0.2))
    }

    @Test func theRingWindowForgetsOldValuesAndTheTotalsKeepThem() throws {
        let tracker = Self.intentTracker(window: 10, minimumCount: 1)
        tracker.record([try Outputs.strings("intent", Array(repeating: "balance", count: 10))])
        tracker.record([try Outputs.strings("intent", Array(repeating: "transfer", count: 4))])
        var output = try #require(tracker.snapshot.outputs.first)
        #expect(output.windowCounts == [6, 4, 0, 0])
        #expect(output.totalCounts == [10, 4, 0, 0])
        // One at a time, around the ring more than once.
        for _ in 0..<25 {
            tracker.record([try Outputs.strings("intent", ["card_lost"])])
        }
        output = try #require(tracker.snapshot.outputs.first)
        #expect(output.windowCounts == [0, 0, 10, 0])
        #expect(output.totalCounts == [10, 4, 25, 0])
    }

    @Test func thePSIIsExactOnAHandComputedWindow() throws {
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 10, minimumCount: 10,
            outputs: [TrackedOutput(name: "label", kind: .categorical(classes: ["x", "y"]), baseline: [0.5, 0.5])]
        ))
        tracker.record([try Outputs.strings("label", ["x", "x", "x", "x", "y", "x", "x", "x", "y"])])
        #expect(tracker.snapshot.outputs.first?.psi == nil, "nine values are fewer than minimumCount")
        let change = tracker.record([try Outputs.strings("label", ["x"])])
        // 8 x and 2 y against 0.5 / 0.5, `other` empty on both sides: 0.3 ln 4.
        let psi = try #require(tracker.snapshot.outputs.first?.psi)
        #expect(abs(psi - 0.3 * log(4.0)) < 1e-12)
        #expect(change == .started(output: "label", psi: psi))
    }

    @Test func boolOutputsCountFalseAndTrueAndAnUnlistedValueAsOther() throws {
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 100, minimumCount: 1,
            outputs: [
                TrackedOutput(name: "is_anomaly", kind: .categorical(classes: TrackedOutput.booleanClasses), baseline: [0.95, 0.05]),
                TrackedOutput(name: "flag", kind: .categorical(classes: ["true"])),
            ]
        ))
        tracker.record([
            try Outputs.bools("is_anomaly", [true, false, false, true, true]),
            try Outputs.bools("flag", [true, false, false]),
        ])
        let snapshot = tracker.snapshot
        #expect(snapshot.outputs[0].binLabels == ["false", "true", "other"])
        #expect(snapshot.outputs[0].windowCounts == [2, 3, 0])
        #expect(snapshot.outputs[0].isCategorical)
        #expect(snapshot.outputs[0].numeric == nil)
        #expect(snapshot.outputs[0].isDrifting, "3 of 5 flagged against a 5% baseline")
        #expect(snapshot.outputs[1].windowCounts == [1, 2])
    }

    @Test func bytesValuesOutsideTheClassesCountAsOther() throws {
        let tracker = Self.intentTracker(window: 100, minimumCount: 1)
        tracker.record([try Outputs.strings("intent", ["balance", "weather", "", "Balance", "transfer"])])
        #expect(tracker.snapshot.outputs.first?.windowCounts == [1, 1, 0, 3])
    }

    @Test func numericOutputsOfEveryWidthAreBinnedAndNonFiniteValuesSkipped() throws {
        let bounds: [Double] = [0, 1, 10]
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 100, minimumCount: 1,
            outputs: ["f32", "f64", "i16", "u8"].map { TrackedOutput(name: $0, kind: .numeric(bounds: bounds)) }
        ))
        tracker.record([
            try Outputs.fp32("f32", [-0.5, 0, 0.25, 1, 1.5, 99, .nan, .infinity]),
            try Outputs.fp64("f64", [-3, 0.5, 10, 10.000001, .nan, -.infinity]),
            try Outputs.int16("i16", [-300, 0, 1, 2, 10, 11]),
            try Outputs.uint8("u8", [0, 1, 255]),
        ])
        let snapshot = tracker.snapshot
        #expect(snapshot.outputs.map(\.windowCounts) == [[2, 2, 1, 1], [1, 1, 1, 1], [2, 1, 2, 1], [1, 1, 0, 1]])
        #expect(snapshot.outputs[0].binLabels == ["0", "1", "10", "+Inf"])
        #expect(snapshot.outputs[0].numeric?.sum == 101.25)
        #expect(snapshot.outputs[1].numeric?.count == 4)
        #expect(snapshot.outputs[3].numeric?.sum == 256)
        #expect(snapshot.outputs.allSatisfy { $0.referenceSource == .pending && $0.psi == nil })
    }

    @Test func untrackedMissingAndMistypedOutputsAreIgnored() throws {
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 10, minimumCount: 1,
            outputs: [
                TrackedOutput(name: "intent", kind: .categorical(classes: ["a"])),
                TrackedOutput(name: "score", kind: .numeric(bounds: [1])),
            ]
        ))
        #expect(tracker.record([try Outputs.fp32("other", [1, 2])]) == nil)
        tracker.record([try Outputs.fp32("intent", [1]), try Outputs.strings("score", ["1"])])
        tracker.record([try Outputs.strings("intent", ["a"])])
        let snapshot = tracker.snapshot
        #expect(snapshot.outputs.map(\.totalCounts) == [[1, 0], [0, 0]])
        #expect(snapshot.windowSize == 10)
        #expect(snapshot.psiThreshold == 0.2)
    }

    @Test func thePSIIsRecomputedEveryTwentiethOfTheWindow() throws {
        // Every `b` is a shift from a baseline of only `a`: drift shows at the first recomputation.
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 1000, minimumCount: 1,
            outputs: [TrackedOutput(name: "label", kind: .categorical(classes: ["a", "b"]), baseline: [1, 0])]
        ))
        #expect(tracker.evaluationInterval == 50)
        for call in 1...49 {
            #expect(tracker.record([try Outputs.strings("label", ["b"])]) == nil, "call \(call)")
        }
        let change = tracker.record([try Outputs.strings("label", ["b"])])
        guard case .started("label", let psi)? = change else {
            Issue.record("expected .started at the 50th value, got \(String(describing: change))")
            return
        }
        #expect(psi > 1)
    }

    @Test func aChangeASnapshotFindsIsReportedByTheNextRecord() throws {
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 1000, minimumCount: 1,
            outputs: [TrackedOutput(name: "label", kind: .categorical(classes: ["a", "b"]), baseline: [1, 0])]
        ))
        #expect(tracker.record([try Outputs.strings("label", Array(repeating: "b", count: 10))]) == nil)
        #expect(tracker.snapshot.isDrifting)
        let change = tracker.record([try Outputs.strings("label", ["a"])])
        guard case .started("label", _)? = change else {
            Issue.record("expected .started, got \(String(describing: change))")
            return
        }
        #expect(tracker.record([try Outputs.strings("label", ["a"])]) == nil, "reported once")
    }

    @Test func theVersionDriftsWhileAnyOutputDoesAndStartNamesTheWorst() throws {
        let tracker = PredictionTracker(settings: TrackingSettings(
            window: 10, minimumCount: 1,
            outputs: [
                TrackedOutput(name: "mild", kind: .categorical(classes: ["a", "b"]), baseline: [0.5, 0.5]),
                TrackedOutput(name: "severe", kind: .categorical(classes: ["a", "b"]), baseline: [0.5, 0.5]),
            ]
        ))
        let change = tracker.record([
            try Outputs.strings("mild", ["a", "a", "a", "b"]),
            try Outputs.strings("severe", ["a", "a", "a", "a"]),
        ])
        guard case .started("severe", _)? = change else {
            Issue.record("expected .started for severe, got \(String(describing: change))")
            return
        }
        let snapshot = tracker.snapshot
        #expect(snapshot.outputs.allSatisfy { $0.isDrifting })
        // `severe` recovers; `mild` still drifts, so the version does.
        #expect(tracker.record([try Outputs.strings("severe", ["b", "b", "b", "b"])]) == nil)
        #expect(tracker.snapshot.isDrifting)
        #expect(tracker.snapshot.output(named: "severe")?.isDrifting == false)
        let cleared = tracker.record([try Outputs.strings("mild", ["b", "b"])])
        #expect(cleared == .cleared(output: "severe", psi: try #require(tracker.snapshot.output(named: "severe")?.psi)))
    }

    @Test func concurrentRecordsAreAllCounted() throws {
        let tracker = Self.intentTracker(window: 100_000, minimumCount: 1)
        let tensor = try Outputs.strings("intent", ["balance", "transfer", "card_lost", "nothing"])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<1000 { tracker.record([tensor]) }
        }
        let output = try #require(tracker.snapshot.outputs.first)
        #expect(output.totalCounts == [8000, 8000, 8000, 8000])
        #expect(output.windowCounts == output.totalCounts)
    }
}
