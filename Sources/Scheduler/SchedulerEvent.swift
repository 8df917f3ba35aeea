/// Something the Scheduler reports for the log: what happened to which model version.
///
/// Events never carry request content.
public struct SchedulerEvent: Sendable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        /// A call ran past its deadline; its caller was answered 504 at the deadline, and its
        /// thread and slot were held until the plugin returned, `overrun` later.
        case callOverranDeadline(overrun: Duration)
        /// Loading did not finish within `timeout`; the version failed and its thread is
        /// abandoned.
        case loadTimedOut(timeout: Duration)
        /// A load that had timed out finished after all; what it made was destroyed.
        case lateLoadDiscarded
        /// Attempt `attempt` to load failed with a transient error (the plugin's `create` said
        /// `MH_ERROR_UNAVAILABLE`); the next starts after `delay`.
        case loadRetrying(attempt: Int, delay: Duration, reason: String)
        /// The version shut down. `isDestroyed` says whether its instance was destroyed and its
        /// threads ended; `stillRunning` counts calls still in the plugin (abandoned, with their
        /// threads; the instance is destroyed if they ever return).
        case shutDown(isDestroyed: Bool, stillRunning: Int)
    }

    /// The model's name.
    public var model: String
    /// The version.
    public var version: String
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(model: String, version: String, kind: Kind) {
        self.model = model
        self.version = version
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .callOverranDeadline(let overrun): "\(model) \(version): a call ran \(overrun) past its deadline"
        case .loadTimedOut(let timeout): "\(model) \(version): loading did not finish within \(timeout); its thread is abandoned"
        case .lateLoadDiscarded: "\(model) \(version): a load that had timed out finished; its instance was destroyed"
        case .loadRetrying(let attempt, let delay, let reason): "\(model) \(version): load attempt \(attempt) failed (\(reason)); retrying in \(delay)"
        case .shutDown(let isDestroyed, let stillRunning):
            "\(model) \(version): shut down (\(isDestroyed ? "instance destroyed" : "instance not destroyed"), \(stillRunning) calls still running)"
        }
    }
}
