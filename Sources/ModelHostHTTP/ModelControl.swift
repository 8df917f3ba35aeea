import ModelHostCore

/// What unloads model versions on an operator's request: the part of the server that owns
/// loading (the models directory watcher and the Scheduler), given to ``ModelHostService``.
///
/// The HTTP edge checks the request first (the key's scope and model, that the model and version
/// exist, that the version is not pinned and not the model's last ready one); the control only
/// does the work. A service without one answers the unload routes 503 `unavailable`.
public protocol ModelControl: Sendable {
    /// Unloads one version of `model`, or every version of it, and waits until none of them takes
    /// new requests: removed from the registry, its calls in flight finished or failed, its
    /// execution shut down.
    ///
    /// - Parameters:
    ///   - model: The model's name.
    ///   - version: The version to unload; `nil` for every version.
    /// - Returns: What changed, in one line for the operator (`"1.0.0 is unloaded"`).
    /// - Throws: ``ModelHostError``: ``ModelHostError/Code/modelNotFound`` when the model or the
    ///   version is gone, or why it could not be unloaded.
    func unload(model: String, version: String?) async throws(ModelHostError) -> String
}
