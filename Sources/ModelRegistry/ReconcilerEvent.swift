import PluginLoader
import Scheduler

/// Something the ``ModelReconciler`` decided or saw, for the log: every step a bundle takes from
/// appearing in the models directory to serving, being replaced, removed or unloaded.
public struct ReconcilerEvent: Sendable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable {
        /// The reconciler has taken over what the initial load registered and follows the
        /// models directory from now on: with inotify and rescans, or (`isWatching` false) with
        /// rescans only.
        case following(isWatching: Bool)
        /// A bundle directory appeared.
        case seen
        /// A known bundle's files changed, or its directory went.
        case changed
        /// The bundle is judged once nothing in it has changed for `settleTime`.
        case waitingToSettle(settleTime: Duration)
        /// A check `modelhost validate` runs failed before any of the bundle's code was loaded.
        /// The bundle is not tried again until it changes.
        case invalid(BundleError)
        /// The bundle passed the checks and is loading on threads of its own.
        case loading
        /// Loading failed (dlopen, the ABI, create, warmup or the load timeout). Not tried again
        /// until the bundle changes.
        case loadFailed(BundleError)
        /// The version is loaded, warmed up and registered, after `loadTime`.
        case ready(loadTime: Duration)
        /// A change to a version that serves failed its checks or its load: the copy already
        /// loaded keeps serving, and the failure is in the log only.
        case keptServing
        /// The same version was loaded again from changed files and now serves; the copy it
        /// replaced drains.
        case replaced
        /// The bundle directory is gone: the version no longer resolves and drains.
        case removed
        /// More versions of the model were resident than `maxResidentVersions`; this one, the
        /// oldest inactive, no longer resolves and drains. It is loaded again if its bundle changes.
        case unloaded(maxResidentVersions: Int)
        /// A version taken out of service (replaced, removed or unloaded) finished draining.
        case drained(ServingVersion.ShutdownReport)
        /// A periodic rescan found a change the watcher had not reported.
        case drift
        /// The kernel's event queue overflowed; everything is rescanned.
        case overflowed
        /// inotify cannot be used (or a directory cannot be watched): changes are found by the
        /// periodic rescan only.
        case watcherUnavailable(reason: String)
        /// The models directory cannot be read; nothing is removed until it can.
        case rescanFailed(reason: String)
    }

    /// The model's name, or `nil` for an event about the models directory.
    public var model: String?
    /// The version, or `nil` for an event about the models directory.
    public var version: String?
    /// What happened.
    public var kind: Kind

    /// Creates an event.
    public init(model: String?, version: String?, kind: Kind) {
        self.model = model
        self.version = version
        self.kind = kind
    }

    public var description: String {
        let subject = [model, version].compactMap { $0 }.joined(separator: " ")
        let prefix = subject.isEmpty ? "models directory" : subject
        return switch kind {
        case .following(let isWatching): "\(prefix): followed \(isWatching ? "with inotify and periodic rescans" : "by periodic rescans only")"
        case .seen: "\(prefix): bundle seen"
        case .changed: "\(prefix): bundle changed"
        case .waitingToSettle(let settleTime): "\(prefix): waiting until nothing changes for \(settleTime)"
        case .invalid(let error): "\(prefix): invalid: \(error.code): \(error.message)"
        case .loading: "\(prefix): loading"
        case .loadFailed(let error): "\(prefix): failed to load: \(error.code): \(error.message)"
        case .ready(let loadTime): "\(prefix): ready (loaded in \(loadTime))"
        case .keptServing: "\(prefix): the loaded copy keeps serving"
        case .replaced: "\(prefix): replaced by the new copy; the old one drains"
        case .removed: "\(prefix): bundle removed; the version drains"
        case .unloaded(let limit): "\(prefix): unloaded, over \(limit) resident versions"
        case .drained(let report):
            "\(prefix): drained (\(report.isDestroyed ? "instance destroyed" : "instance not destroyed"), \(report.stillRunning) calls still running)"
        case .drift: "\(prefix): the rescan found a change the watcher missed"
        case .overflowed: "\(prefix): the watcher's event queue overflowed; rescanning"
        case .watcherUnavailable(let reason): "\(prefix): changes are found by rescans only: \(reason)"
        case .rescanFailed(let reason): "\(prefix): cannot be read: \(reason)"
        }
    }
}
