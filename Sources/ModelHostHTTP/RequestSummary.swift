import ModelHostCore

/// What the request log and the edge's counts say about one answered request: who asked, which
/// model version answered, how it ended and how long each part took. Never any content.
struct RequestSummary: Sendable {
    /// Who asked and when: the request id, the trace, the head's arrival.
    var origin: RequestOrigin
    /// The key that was admitted, if any: its id, never the key.
    var keyID: String?
    /// The model the request named, if any.
    var model: String?
    /// The version that was chosen for it, if one was.
    var version: String?
    /// The error it ended in, or `nil` for a success.
    var code: ModelHostError.Code?
    /// From head to answer; set when the version measured it, else taken when the answer is written.
    var total: Duration?
    /// Time in the version's queue, when it reached it.
    var queued: Duration?
    /// Time inside the plugin, when it was called.
    var inference: Duration?
    /// Whether the version's own measurements counted it; otherwise the edge's counts do.
    var isCountedByVersion = false
}
