import Foundation
@_exported import ModelHostCore

/// A model a Swift plugin serves: built once from its bundle, then asked for inferences.
///
/// Conform a type and export it with one line:
///
/// ```swift
/// @_cdecl("modelhost_plugin_entry")
/// public func modelhostPluginEntry() -> UnsafeRawPointer { PluginExport.table(for: MyModel.self) }
/// ```
///
/// The host calls ``infer(_:context:)`` from its own threads, at most as many calls at once as
/// the manifest's `limits.maxConcurrency` allows, hence the `Sendable` requirement. Implement
/// ``infer(_:)`` for a model that needs no deadline, or ``infer(_:context:)`` to see the call's
/// deadline and whether its caller still waits. Implement at least one: each one's default calls
/// the other.
public protocol ModelPlugin: Sendable {
    /// Whether the model accepts batched calls: requests joined along the first dimension of
    /// every input whose manifest shape starts with -1, each output answering row for row.
    /// Default `false`.
    static var supportsBatching: Bool { get }

    /// Builds the model from the manifest's `config` and the artifacts in the bundle.
    ///
    /// - Throws: Any error; the host reports its description and does not load the version.
    init(context: PluginContext) throws

    /// Runs one inference.
    ///
    /// - Parameter inputs: The request's tensors, in the order the caller sent them.
    /// - Returns: The output tensors.
    /// - Throws: ``PluginError`` to choose how the host answers; any other error is internal.
    func infer(_ inputs: [Tensor]) throws -> [Tensor]

    /// Runs one inference, knowing its deadline. The default calls ``infer(_:)``.
    ///
    /// - Parameters:
    ///   - inputs: The request's tensors, in the order the caller sent them.
    ///   - context: The call's deadline, and whether anyone still waits for it.
    /// - Returns: The output tensors.
    /// - Throws: ``PluginError`` to choose how the host answers; any other error is internal.
    func infer(_ inputs: [Tensor], context: InferenceContext) throws -> [Tensor]
}

extension ModelPlugin {
    public static var supportsBatching: Bool { false }

    public func infer(_ inputs: [Tensor], context: InferenceContext) throws -> [Tensor] {
        try infer(inputs)
    }

    public func infer(_ inputs: [Tensor]) throws -> [Tensor] {
        try infer(inputs, context: .unbounded)
    }
}

/// What a plugin is given when it is created.
public struct PluginContext: Sendable {
    /// The manifest's `config` value, as JSON.
    public var configuration: Data
    /// The bundle's directory, where the plugin's artifacts are.
    public var bundleDirectory: URL

    /// Creates a context.
    public init(configuration: Data, bundleDirectory: URL) {
        self.configuration = configuration
        self.bundleDirectory = bundleDirectory
    }

    /// Decodes the manifest's `config` value.
    ///
    /// - Throws: A `PluginError` with class ``PluginError/Kind/internal`` naming the decoding problem.
    public func decodeConfiguration<Configuration: Decodable>(_ type: Configuration.Type) throws -> Configuration {
        do {
            return try JSONDecoder().decode(type, from: configuration)
        } catch {
            throw PluginError(.internal, "config: \(error)")
        }
    }

    /// The URL of an artifact, given its path relative to the bundle directory.
    ///
    /// The path is joined as given: a plugin that takes artifact paths from its config should
    /// refuse absolute paths and `..` components itself.
    public func artifactURL(_ relativePath: String) -> URL {
        bundleDirectory.appendingPathComponent(relativePath)
    }
}

/// An error a plugin throws to tell the host how to answer.
public struct PluginError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The class of an error, which the host acts on.
    public enum Kind: Sendable, Hashable {
        /// The caller's fault: answered 400, never retried, not a failure of the model.
        case invalidInput
        /// A transient failure: answered 503, and the host may retry it.
        case unavailable
        /// The plugin failed: answered 500.
        case `internal`
    }

    /// The class of the error.
    public var kind: Kind
    /// What went wrong, for the caller.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

extension Array where Element == Tensor {
    /// The tensor with the given name.
    ///
    /// - Throws: A ``PluginError/Kind/invalidInput`` error when no tensor has that name.
    public func named(_ name: String) throws -> Tensor {
        guard let tensor = first(where: { $0.name == name }) else {
            throw PluginError(.invalidInput, "input \"\(name)\" is missing")
        }
        return tensor
    }
}
