import ModelHostCore

/// One request for a model version's plugin: its inputs, how long its caller waits, and where
/// the answer goes.
public struct InferenceJob: Sendable {
    /// A job's inputs: tensors ready for the plugin, or a body to decode first.
    public enum Inputs: Sendable {
        /// Decoded and validated tensors.
        case tensors([Tensor])
        /// Work that produces the tensors, run on the version's thread before the call: large
        /// bodies decode there, off the event loop, bounded by the version's own queue and
        /// threads. A failure answers the job without calling the plugin.
        case deferred(@Sendable () -> Result<[Tensor], ModelHostError>)
    }

    /// What the plugin is called with.
    public var inputs: Inputs
    /// How long the caller waits, from submission; the deadline.
    public var timeout: Duration
    /// Receives the answer, exactly once: the plugin's outputs or the error the request ends in
    /// (``ModelHostError/Code/timeout`` at the deadline, ``ModelHostError/Code/cancelled`` after
    /// ``ServingVersion/cancel(_:)``). It runs on whichever thread settled the job — a plugin
    /// thread, the deadline thread, the canceller's — so it must not block: hand the result to
    /// where it is needed.
    public var completion: @Sendable (Result<[Tensor], ModelHostError>) -> Void

    /// Creates a job.
    public init(inputs: Inputs, timeout: Duration, completion: @escaping @Sendable (Result<[Tensor], ModelHostError>) -> Void) {
        self.inputs = inputs
        self.timeout = timeout
        self.completion = completion
    }
}
