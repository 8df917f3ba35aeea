import CircuitBreaker
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import Synchronization
import Testing

/// ``BreakerRegistry``: overrides reach the version's breaker and outlive a reload, unknown versions
/// are named in the error, and transitions arrive on the event stream.
@Suite("Breaker registry")
struct BreakerRegistryTests {
    /// A model version's breaker as the Scheduler keeps it: a machine under a lock, reporting its
    /// transitions to a sink.
    final class FakeControl: BreakerControl {
        private let machine = Mutex(BreakerStateMachine<ManualClock.Instant>(configuration: .init(BreakerSettings())))
        private let clock: ManualClock
        private let sink: @Sendable (BreakerTransition) -> Void
        /// Every override applied, in order.
        let applied = Mutex<[BreakerOverride]>([])

        init(clock: ManualClock = ManualClock(), sink: @escaping @Sendable (BreakerTransition) -> Void = { _ in }) {
            self.clock = clock
            self.sink = sink
        }

        var breakerSnapshot: BreakerSnapshot {
            machine.withLock { $0.snapshot(now: clock.now) }
        }

        func overrideBreaker(_ override: BreakerOverride) -> BreakerSnapshot {
            applied.withLock { $0.append(override) }
            let now = clock.now
            let (transition, snapshot) = machine.withLock { machine in
                (machine.override(override, now: now), machine.snapshot(now: now))
            }
            if let transition { sink(transition) }
            return snapshot
        }
    }

    @Test("overriding a version with no breaker throws modelNotFound naming it and the known versions")
    func unknownVersion() async {
        let registry = BreakerRegistry()
        await registry.register(FakeControl(), model: "tiny", version: "1.0.0")
        await registry.register(FakeControl(), model: "tiny", version: "1.1.0")
        await registry.register(FakeControl(), model: "other", version: "9.0.0")
        let error = await #expect(throws: ModelHostError.self) {
            try await registry.override(model: "tiny", version: "2.0.0", to: .forcedOpen)
        }
        #expect(error?.code == .modelNotFound)
        #expect(error?.message == #"model "tiny" version "2.0.0" has no breaker; its versions with a breaker are 1.0.0, 1.1.0"#)

        let none = await #expect(throws: ModelHostError.self) {
            try await registry.override(model: "absent", version: "1.0.0", to: .closed)
        }
        #expect(none?.code == .modelNotFound)
        #expect(none?.message == #"model "absent" version "1.0.0" has no breaker; no version of it has a breaker"#)
        #expect(await registry.snapshot(model: "absent", version: "1.0.0") == nil)
    }

    @Test("an override reaches the version's breaker")
    func overrideReachesControl() async throws {
        let registry = BreakerRegistry()
        let control = FakeControl()
        await registry.register(control, model: "tiny", version: "1.0.0")
        let snapshot = try await registry.override(model: "tiny", version: "1.0.0", to: .forcedOpen)
        #expect(snapshot.phase == .forcedOpen)
        #expect(control.applied.withLock { $0 } == [.forcedOpen])
        #expect(await registry.snapshot(model: "tiny", version: "1.0.0")?.phase == .forcedOpen)
        #expect(try await registry.override(model: "tiny", version: "1.0.0", to: .disabled).phase == .disabled)
        #expect(control.breakerSnapshot.phase == .disabled)
    }

    @Test("a version registered again gets the override set before; closed forgets it")
    func reregisterReappliesOverride() async throws {
        let registry = BreakerRegistry()
        await registry.register(FakeControl(), model: "tiny", version: "1.0.0")
        _ = try await registry.override(model: "tiny", version: "1.0.0", to: .forcedOpen)
        await registry.unregister(model: "tiny", version: "1.0.0")
        #expect(await registry.snapshot(model: "tiny", version: "1.0.0") == nil)

        let reloaded = FakeControl()
        await registry.register(reloaded, model: "tiny", version: "1.0.0")
        #expect(reloaded.applied.withLock { $0 } == [.forcedOpen])
        #expect(await registry.snapshot(model: "tiny", version: "1.0.0")?.phase == .forcedOpen)

        // Another version of the same model is not affected.
        let sibling = FakeControl()
        await registry.register(sibling, model: "tiny", version: "1.1.0")
        #expect(sibling.applied.withLock { $0 }.isEmpty)

        _ = try await registry.override(model: "tiny", version: "1.0.0", to: .closed)
        await registry.unregister(model: "tiny", version: "1.0.0")
        let again = FakeControl()
        await registry.register(again, model: "tiny", version: "1.0.0")
        #expect(again.applied.withLock { $0 }.isEmpty)
        #expect(again.breakerSnapshot.phase == .closed)
    }

    @Test("transitions reported through a sink arrive on the stream with model and version")
    func events() async throws {
        let registry = BreakerRegistry()
        let control = FakeControl(sink: registry.eventSink(model: "tiny", version: "1.2.3"))
        await registry.register(control, model: "tiny", version: "1.2.3")
        _ = try await registry.override(model: "tiny", version: "1.2.3", to: .forcedOpen)
        _ = try await registry.override(model: "tiny", version: "1.2.3", to: .forcedOpen)  // no move, no event
        _ = try await registry.override(model: "tiny", version: "1.2.3", to: .closed)
        await registry.finish()

        var received: [BreakerEvent] = []
        for await event in registry.events {
            received.append(event)
        }
        #expect(received == [
            BreakerEvent(model: "tiny", version: "1.2.3", transition: BreakerTransition(from: .closed, to: .forcedOpen, reason: .operatorOverride)),
            BreakerEvent(model: "tiny", version: "1.2.3", transition: BreakerTransition(from: .forcedOpen, to: .closed, reason: .operatorOverride)),
        ])
        #expect(received.first?.description == "tiny 1.2.3: closed → forced-open: operator override")
    }

    @Test("the event buffer is bounded: the oldest unread events are dropped")
    func boundedEvents() async {
        let registry = BreakerRegistry(bufferedEvents: 2)
        let sink = registry.eventSink(model: "tiny", version: "1.0.0")
        let reasons: [BreakerTransition.Reason] = [.consecutiveFailures(5), .openDurationElapsed, .probesSucceeded]
        for reason in reasons {
            sink(BreakerTransition(from: .closed, to: .open, reason: reason))
        }
        await registry.finish()
        sink(BreakerTransition(from: .closed, to: .open, reason: .probeFailed))  // after finish: dropped

        var received: [BreakerTransition.Reason] = []
        for await event in registry.events {
            received.append(event.transition.reason)
        }
        #expect(received == [.openDurationElapsed, .probesSucceeded])
    }
}
