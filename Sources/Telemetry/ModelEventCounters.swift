import Synchronization

/// Counts, per model, of what happened to its bundles and rollout: loads, failed loads, reloads
/// of a changed bundle and rollbacks by trigger. Fed by the control plane's events.
public final class ModelEventCounters: Sendable {
    /// What is counted.
    public struct Event: Sendable, Hashable, CustomStringConvertible {
        private enum Kind: Hashable { case load, loadFailure, reload, automaticRollback, operatorRollback }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// A bundle loaded and serves.
        public static let load = Event(.load)
        /// A bundle was refused by its checks or failed to load.
        public static let loadFailure = Event(.loadFailure)
        /// A changed bundle was loaded again in place of the copy that served.
        public static let reload = Event(.reload)
        /// The rollout watcher rolled back a failing version by itself.
        public static let automaticRollback = Event(.automaticRollback)
        /// An operator rolled back.
        public static let operatorRollback = Event(.operatorRollback)

        public var description: String {
            switch kind {
            case .load: "load"
            case .loadFailure: "load_failure"
            case .reload: "reload"
            case .automaticRollback: "automatic_rollback"
            case .operatorRollback: "operator_rollback"
            }
        }
    }

    private let counts = Mutex<[String: [Event: UInt64]]>([:])

    /// Creates counters at zero.
    public init() {}

    /// Counts `event` for `model`.
    public func record(_ event: Event, model: String) {
        counts.withLock { $0[model, default: [:]][event, default: 0] &+= 1 }
    }

    /// Every model's counts.
    public var snapshot: [String: [Event: UInt64]] {
        counts.withLock { $0 }
    }
}
