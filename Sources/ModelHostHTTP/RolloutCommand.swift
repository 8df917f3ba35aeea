import ModelHostCore
import ModelRegistry
import NIOCore

/// An operator's change of a model's rollout, read from a `POST /admin/models/{m}/{action}` body,
/// and applied to the model's ``RolloutState`` in one step.
enum RolloutCommand: Equatable, Sendable {
    /// `rollback`, `{}` or `{"to": "1.0.0"}`: back to the version active before, or to `to`.
    case rollback(to: String?)
    /// `promote`, `{"version": "1.1.0"}`: the version becomes active.
    case promote(version: String)
    /// `pin`, `{"version": "1.0.0"}`: the version stays active until unpinned.
    case pin(version: String)
    /// `unpin`, `{}`: the pin goes; the active version stays.
    case unpin
    /// `canary`, `{"version": "1.1.0", "percent": 10}`: the version takes a share of unversioned traffic.
    case canary(version: String, percent: Double)
    /// `split`, `{"weights": {"1.0.0": 50, "1.1.0": 50}}`: unversioned traffic is shared by weight.
    case split(weights: [String: Double])

    /// The reason an operator's rollback records for the version it leaves.
    static let operatorRollbackReason = "rolled back by an operator"

    /// The body each action takes, as an example for messages and docs.
    static func bodyShape(of action: Route.RolloutAction) -> String {
        switch action {
        case .rollback: #"{} or {"to": "1.0.0"}"#
        case .promote, .pin: #"{"version": "1.1.0"}"#
        case .unpin: "{}"
        case .canary: #"{"version": "1.1.0", "percent": 10}"#
        case .split: #"{"weights": {"1.0.0": 50, "1.1.0": 50}}"#
        }
    }

    /// Reads the command an action's body asks for.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` for a body that is
    ///   not the action's, saying which body it takes.
    init(action: Route.RolloutAction, body: ByteBuffer) throws(ModelHostError) {
        let shape = Self.bodyShape(of: action)
        switch action {
        case .rollback:
            let fields = try ControlBody(body, shape: shape, allowed: ["to"], allowsEmpty: true)
            self = .rollback(to: try fields.optionalString("to"))
        case .promote:
            let fields = try ControlBody(body, shape: shape, allowed: ["version"], allowsEmpty: false)
            self = .promote(version: try fields.string("version"))
        case .pin:
            let fields = try ControlBody(body, shape: shape, allowed: ["version"], allowsEmpty: false)
            self = .pin(version: try fields.string("version"))
        case .unpin:
            _ = try ControlBody(body, shape: shape, allowed: [], allowsEmpty: true)
            self = .unpin
        case .canary:
            let fields = try ControlBody(body, shape: shape, allowed: ["version", "percent"], allowsEmpty: false)
            self = .canary(version: try fields.string("version"), percent: try fields.number("percent"))
        case .split:
            let fields = try ControlBody(body, shape: shape, allowed: ["weights"], allowsEmpty: false)
            self = .split(weights: try fields.numbers("weights"))
        }
    }

    /// Applies the command to a model's state.
    ///
    /// A split's versions are ordered as the model's versions are, lowest first, whatever order
    /// the body named them in, so the same weights always give each caller the same version.
    ///
    /// - Parameters:
    ///   - state: The model's rollout state, changed only when the command succeeds.
    ///   - ready: The model's ready versions, lowest to highest.
    /// - Returns: What changed, in words.
    /// - Throws: What ``RolloutState`` throws: ``ModelHostError/Code/modelNotReady`` for a version
    ///   that is not ready, ``ModelHostError/Code/invalidRequest`` for a change that cannot be made.
    func apply(to state: inout RolloutState, ready: [String]) throws(ModelHostError) -> String {
        switch self {
        case .rollback(let target):
            return try state.rollback(to: target, reason: Self.operatorRollbackReason, ready: ready)
        case .promote(let version):
            return try state.promote(version, ready: ready)
        case .pin(let version):
            return try state.pin(version, ready: ready)
        case .unpin:
            return try state.unpin()
        case .canary(let version, let percent):
            return try state.startCanary(version, percent: percent, ready: ready)
        case .split(let weights):
            let rank = { (version: String) in ready.firstIndex(of: version) ?? ready.count }
            let variants = weights
                .sorted { (rank($0.key), $0.key) < (rank($1.key), $1.key) }
                .map { RolloutState.Variant(version: $0.key, weight: $0.value) }
            return try state.startSplit(variants, ready: ready)
        }
    }
}
