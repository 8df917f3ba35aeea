import ModelHostCore
import ModelManifest
import PluginLoader
import Scheduler
import Telemetry

/// One version of one model as the registry knows it: loading, ready to serve, or failed with
/// its reason.
///
/// Immutable and shared by reference, so handing a record to a request costs one retain however
/// large its manifest is.
public final class ModelVersionRecord: Sendable {
    /// Where a version stands.
    public enum State: Sendable {
        /// Found in the models directory; its load has not finished.
        case loading
        /// Loaded, created and warmed up: its execution owner and compiled input rules.
        case ready(ServingVersion, InputValidator)
        /// Refused; the error says which check failed and why.
        case failed(BundleError)
    }

    /// The model's name (the bundle's name folder).
    public let name: String
    /// The version's text (the bundle's version folder).
    public let version: String
    /// The parsed version, when the folder's name is a semantic version.
    public let semanticVersion: SemanticVersion?
    /// The bundle directory.
    public let directory: String
    /// The manifest, when it could be read.
    public let manifest: Manifest?
    /// Loading, ready or failed.
    public let state: State
    /// What is measured of the version's requests while it is loaded.
    public let telemetry: VersionTelemetry

    /// Creates a record.
    public init(name: String, version: String, directory: String, manifest: Manifest?, state: State) {
        self.name = name
        self.version = version
        self.semanticVersion = SemanticVersion(version)
        self.directory = directory
        self.manifest = manifest
        self.state = state
        // Only a loaded version is called, so only it tracks predictions.
        if case .ready = state {
            self.telemetry = VersionTelemetry(tracking: manifest?.tracking)
        } else {
            self.telemetry = VersionTelemetry()
        }
    }

    /// The execution owner of a loaded version, or `nil` while loading and for a failed version.
    public var serving: ServingVersion? {
        if case .ready(let serving, _) = state { return serving }
        return nil
    }

    /// The compiled input rules of a loaded version.
    public var validator: InputValidator? {
        if case .ready(_, let validator) = state { return validator }
        return nil
    }

    /// Whether the version loaded and may take requests. Whether it can take one right now is
    /// ``ServingVersion/isReady``.
    public var isReady: Bool { serving != nil }

    /// Whether the version's load has not finished.
    public var isLoading: Bool {
        if case .loading = state { return true }
        return false
    }

    /// Why the version does not serve, or `nil` when it does or is still loading.
    public var failure: BundleError? {
        if case .failed(let error) = state { return error }
        return nil
    }
}
