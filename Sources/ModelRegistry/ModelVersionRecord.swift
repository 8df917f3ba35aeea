import ModelHostCore
import ModelManifest
import PluginLoader

/// One version of one model as the registry knows it: ready to serve, or failed with its reason.
///
/// Immutable and shared by reference, so handing a record to a request costs one retain however
/// large its manifest is.
public final class ModelVersionRecord: Sendable {
    /// Where a version stands.
    public enum State: Sendable {
        /// Loaded, created and warmed up, with its compiled input rules.
        case ready(PluginInstance, InputValidator)
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
    /// Ready or failed.
    public let state: State

    /// Creates a record.
    public init(name: String, version: String, directory: String, manifest: Manifest?, state: State) {
        self.name = name
        self.version = version
        self.semanticVersion = SemanticVersion(version)
        self.directory = directory
        self.manifest = manifest
        self.state = state
    }

    /// The ready instance, or `nil` for a failed version.
    public var instance: PluginInstance? {
        if case .ready(let instance, _) = state { return instance }
        return nil
    }

    /// The compiled input rules of a ready version.
    public var validator: InputValidator? {
        if case .ready(_, let validator) = state { return validator }
        return nil
    }

    /// Whether the version serves.
    public var isReady: Bool { instance != nil }

    /// Why the version does not serve, or `nil` when it does.
    public var failure: BundleError? {
        if case .failed(let error) = state { return error }
        return nil
    }
}
