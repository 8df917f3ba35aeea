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

    /// How a job's time was spent, given with its answer.
    ///
    /// `queued + inference` is at most the time from submission to the answer: what is left is
    /// spent waiting out retries' backoffs, and decoding ``Inputs/deferred`` inputs again for a
    /// retry. Every instant is one the version reads anyway, when it takes, finishes or answers
    /// the job.
    public struct Timings: Sendable, Hashable {
        /// From submission to the start of the first plugin call; to the answer if the plugin was
        /// never called for the job. Decoding ``Inputs/deferred`` inputs before the first call is
        /// part of it.
        public var queued: Duration
        /// Time inside plugin calls made for the job, over all its attempts: for a member of a
        /// batch, the whole joined call. A call still running when the job is answered (at its
        /// deadline, on cancellation or shutdown) counts up to the answer, from when its thread
        /// took the job. `.zero` if the plugin was never called for it.
        public var inference: Duration
        /// Requests joined in the plugin call that answered the job (the last one made for it):
        /// 1 for a call of its own, `n` in a batch of `n`; 0 if the plugin was never called.
        public var batchSize: Int
        /// Plugin calls made for the job: 1 plus its retries; 0 if it never ran. An attempt whose
        /// ``Inputs/deferred`` inputs failed to decode counts, with no time in `inference`.
        public var attempts: Int

        /// Creates timings; the defaults are those of a job that never ran and was answered at once.
        public init(queued: Duration = .zero, inference: Duration = .zero, batchSize: Int = 0, attempts: Int = 0) {
            self.queued = queued
            self.inference = inference
            self.batchSize = batchSize
            self.attempts = attempts
        }
    }

    /// What the plugin is called with.
    public var inputs: Inputs
    /// How long the caller waits, from submission; the deadline.
    public var timeout: Duration
    /// Receives the answer, exactly once, with how the job's time was spent: the plugin's
    /// outputs or the error the request ends in (``ModelHostError/Code/timeout`` at the
    /// deadline, ``ModelHostError/Code/cancelled`` after ``ServingVersion/cancel(_:)``). It runs
    /// on whichever thread settled the job — a plugin thread, the deadline thread, the
    /// canceller's — so it must not block: hand the result to where it is needed.
    public var timedCompletion: @Sendable (Result<[Tensor], ModelHostError>, Timings) -> Void

    /// Creates a job whose completion is told how its time was spent.
    public init(inputs: Inputs, timeout: Duration, timedCompletion: @escaping @Sendable (Result<[Tensor], ModelHostError>, Timings) -> Void) {
        self.inputs = inputs
        self.timeout = timeout
        self.timedCompletion = timedCompletion
    }

    /// Creates a job whose completion receives the answer only.
    public init(inputs: Inputs, timeout: Duration, completion: @escaping @Sendable (Result<[Tensor], ModelHostError>) -> Void) {
        self.init(inputs: inputs, timeout: timeout) { result, _ in completion(result) }
    }
}
