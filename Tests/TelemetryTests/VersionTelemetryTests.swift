import ModelHostCore
import Testing

@testable import Telemetry

@Suite struct VersionTelemetryTests {
    @Test func outcomesAreCountedByCodeWithSuccessAsOk() {
        let telemetry = VersionTelemetry()
        telemetry.record(failure: nil, total: .milliseconds(2), queued: .microseconds(100), inference: .milliseconds(1))
        telemetry.record(failure: nil, total: .milliseconds(3), queued: .microseconds(200), inference: .milliseconds(2))
        telemetry.record(failure: .timeout, total: .seconds(1), queued: .seconds(1), inference: nil)
        telemetry.record(failure: .validation, total: .microseconds(50), queued: nil, inference: nil)
        let snapshot = telemetry.snapshot
        #expect(snapshot.outcomes == ["ok": 2, "timeout": 1, "validation_failed": 1])
        #expect(snapshot.requests == 4)
        #expect(snapshot.failures == 2)
        // Every request has a total; only those that reached the queue or the plugin have those parts.
        #expect(snapshot.total.count == 4)
        #expect(snapshot.queued.count == 3)
        #expect(snapshot.inference.count == 2)
        #expect(abs(snapshot.inference.sum - 0.003) < 1e-9)
    }

    @Test func refusalsAreCountedByInputAndRule() {
        let telemetry = VersionTelemetry()
        telemetry.recordRefusal(.init(input: "query", rule: "max_length"))
        telemetry.recordRefusal(.init(input: "query", rule: "max_length"))
        telemetry.recordRefusal(.init(input: "amount", rule: "min"))
        #expect(telemetry.snapshot.refusals == [.init(input: "query", rule: "max_length"): 2, .init(input: "amount", rule: "min"): 1])
    }

    @Test func nothingIsTrackedWithoutATrackingSection() {
        #expect(VersionTelemetry().predictions == nil)
    }
}
