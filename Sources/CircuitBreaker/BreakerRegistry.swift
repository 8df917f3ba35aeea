import ModelHostCore

/// Owns every model version's breaker controls, the operators' overrides, and the stream of
/// transition events.
///
/// The breakers themselves live with each version's execution, so the request path never touches
/// this actor: a version reports its transitions through its ``eventSink(model:version:)`` from
/// whatever thread it runs on, and the registry reaches its breaker through ``BreakerControl``.
///
/// An override outlives the version it was set on: a version registered again under the same
/// model and version (a reload) gets it again, until an operator sets ``BreakerOverride/closed``.
public actor BreakerRegistry {
    private struct Key: Hashable {
        var model: String
        var version: String
    }

    /// Every breaker transition reported through a sink, in the order reported. When the consumer
    /// falls behind, the oldest unread events are dropped first.
    public nonisolated let events: AsyncStream<BreakerEvent>
    private nonisolated let continuation: AsyncStream<BreakerEvent>.Continuation
    private var controls: [Key: any BreakerControl] = [:]
    private var overrides: [Key: BreakerOverride] = [:]

    /// Creates an empty registry.
    ///
    /// - Parameter bufferedEvents: The most events ``events`` holds unread (at least 1); beyond
    ///   that the oldest are dropped.
    public init(bufferedEvents: Int = 1024) {
        (events, continuation) = AsyncStream.makeStream(of: BreakerEvent.self, bufferingPolicy: .bufferingNewest(max(1, bufferedEvents)))
    }

    /// Where a version reports its transitions, synchronously from any thread: each one is
    /// yielded to ``events`` at once, with no hop to the actor.
    public nonisolated func eventSink(model: String, version: String) -> @Sendable (BreakerTransition) -> Void {
        { [continuation] transition in
            continuation.yield(BreakerEvent(model: model, version: version, transition: transition))
        }
    }

    /// Adds a version's breaker, replacing any registered under the same model and version, and
    /// applies the override an operator set for them before, if any.
    public func register(_ control: any BreakerControl, model: String, version: String) {
        let key = Key(model: model, version: version)
        controls[key] = control
        if let override = overrides[key] {
            _ = control.overrideBreaker(override)
        }
    }

    /// Removes a version's breaker. An override set for it is kept, for a version registered again.
    public func unregister(model: String, version: String) {
        controls[Key(model: model, version: version)] = nil
    }

    /// Sets a version's breaker as an operator asks, and remembers the override for a version
    /// registered again under the same names; ``BreakerOverride/closed`` forgets it.
    ///
    /// - Returns: What the breaker looks like afterwards.
    /// - Throws: ``ModelHostError/Code/modelNotFound`` when no breaker is registered for the model
    ///   and version.
    public func override(model: String, version: String, to override: BreakerOverride) throws(ModelHostError) -> BreakerSnapshot {
        let key = Key(model: model, version: version)
        guard let control = controls[key] else {
            throw ModelHostError(.modelNotFound, notFoundMessage(model: model, version: version))
        }
        overrides[key] = override == .closed ? nil : override
        return control.overrideBreaker(override)
    }

    /// What a version's breaker looks like now, or `nil` when none is registered for it.
    public func snapshot(model: String, version: String) -> BreakerSnapshot? {
        controls[Key(model: model, version: version)]?.breakerSnapshot
    }

    /// Ends ``events``: events reported afterwards are dropped.
    public func finish() {
        continuation.finish()
    }

    /// Names the model and version asked for, and the versions of that model that are known.
    private func notFoundMessage(model: String, version: String) -> String {
        let known = controls.keys.filter { $0.model == model }.map(\.version).sorted()
        let versions = known.isEmpty ? "no version of it has a breaker" : "its versions with a breaker are \(known.joined(separator: ", "))"
        return "model \"\(model)\" version \"\(version)\" has no breaker; \(versions)"
    }
}
