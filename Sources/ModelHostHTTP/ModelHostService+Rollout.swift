import Logging
import ModelHostCore
import ModelRegistry
import Telemetry
import NIOCore
import NIOHTTP1

/// The control routes: `POST /admin/models/{m}/{rollback|promote|pin|unpin|canary|split}`, which
/// change which version of a model serves unversioned requests, and the load and unload routes
/// (in `ModelHostService+Unload.swift`).
///
/// Each is admitted from its head with the admin scope and the model it names, so a key
/// restricted to other models is refused before anything is read; the model (and a version the
/// path names) is checked from the head too; then the body is read strictly and the change made
/// in one step. Every answer is `{"changed": what changed, "name", "active", "versions"}`.
extension ModelHostService {
    /// What a control route's head names that does not exist, or `nil` when everything does.
    func controlRefusal(for route: Route) -> ModelHostError? {
        guard let name = route.controlledModel else { return nil }
        let snapshot = registry.snapshot
        guard let versions = snapshot.models[name] else {
            var message = "model \"\(name)\" is not known to this server"
            if case .repositoryLoad = route { message += "; a model is loaded by adding its bundle to the models directory (<models>/\(name)/<version>/)" }
            return ModelHostError(.modelNotFound, message)
        }
        if case .unloadVersion(_, let version) = route, !versions.contains(where: { $0.version == version }) {
            return ModelHostError(.modelNotFound, "model \"\(name)\" has no version \"\(version)\" (known: \(versions.map(\.version).joined(separator: ", ")))")
        }
        return nil
    }

    /// Reads an admitted control route's body, acts, and calls `completion` with the answer: at
    /// once, or, for an unload, when the control has finished.
    func respondToControl(_ request: AdmittedRequest, body: ByteBuffer, completion: @escaping @Sendable (HTTPResponse) -> Void) {
        let finish: @Sendable (HTTPResponse) -> Void = { response in
            var response = response
            for header in request.responseHeaders { response.headers.replaceOrAdd(name: header.name, value: header.value) }
            completion(response)
        }
        switch request.route {
        case .rollout(let name, let action):
            finish(changeRollout(of: name, action: action, body: body, request: request))
        case .repositoryLoad(let name):
            finish(load(name, body: body))
        case .repositoryUnload(let name):
            unload(name, version: nil, body: body, request: request, finish: finish)
        case .unloadVersion(let name, let version):
            unload(name, version: version, body: body, request: request, finish: finish)
        default:
            finish(HTTPResponse(error: ModelHostError(.internal, "\(request.path) was routed to the control handler")))
        }
    }

    /// Applies the rollout change the body asks for, in one step.
    private func changeRollout(of name: String, action: Route.RolloutAction, body: ByteBuffer, request: AdmittedRequest) -> HTTPResponse {
        do throws(ModelHostError) {
            let command = try RolloutCommand(action: action, body: body)
            let summary = try registry.updateRollout(of: name) { (state, ready) throws(ModelHostError) in
                try command.apply(to: &state, ready: ready)
            }
            if case .rollback = command { counters.modelEvents.record(.operatorRollback, model: name) }
            logger.notice("rollout changed", metadata: [
                "event": "\(action == .rollback ? "rolled_back" : "rollout_changed")",
                "model": "\(name)", "action": "\(action.rawValue)", "changed": "\(summary)",
                "key": "\(request.keyID ?? "-")", "request": "\(request.requestID)",
            ])
            return Self.controlResponse(model: name, changed: summary, in: registry.snapshot)
        } catch {
            logger.info("rollout change refused", metadata: [
                "model": "\(name)", "action": "\(action.rawValue)", "code": "\(error.code)", "reason": "\(error.message)",
                "key": "\(request.keyID ?? "-")", "request": "\(request.requestID)",
            ])
            return HTTPResponse(error: error)
        }
    }
}
