import Testing

@testable import Telemetry

@Suite struct ModelEventCountersTests {
    @Test func eventsAreCountedPerModel() {
        let counters = ModelEventCounters()
        counters.record(.load, model: "a")
        counters.record(.load, model: "a")
        counters.record(.automaticRollback, model: "a")
        counters.record(.loadFailure, model: "b")
        let snapshot = counters.snapshot
        #expect(snapshot["a"] == [.load: 2, .automaticRollback: 1])
        #expect(snapshot["b"] == [.loadFailure: 1])
    }
}
