import Logging
import ModelHostCore
import ModelRegistry
import NIOCore
import NIOHTTP1
import PluginLoader

/// The routes that load and unload models: the Open Inference Protocol's repository extension,
/// `POST /v2/repository/models/{m}/load` and `/unload` (what KServe's model agent calls), and
/// `POST /admin/models/{m}/versions/{v}/unload` for one version.
///
/// Bundles are loaded from the models directory, never by a request, so `load` only says whether
/// the model is loaded. Unloading is the ``ModelControl``'s work; without one, 503.
extension ModelHostService {
    /// The body the repository routes take: nothing, `{}`, or `{"parameters": {}}`.
    private static let repositoryBodyShape = #"{} or {"parameters": {}}"#

    /// `load`: 200 when the model has a ready version, else 503 `model_not_ready` with each
    /// version's state.
    func load(_ name: String, body: ByteBuffer) -> HTTPResponse {
        do throws(ModelHostError) {
            try Self.checkRepositoryBody(body, route: "load")
            let snapshot = registry.snapshot
            let versions = snapshot.models[name] ?? []
            let ready = snapshot.readyVersions(of: name)
            guard ready.isEmpty else {
                let changed = "nothing to do: \(name) is loaded (ready: \(ready.joined(separator: ", "))); bundles are loaded from the models directory"
                return Self.controlResponse(model: name, changed: changed, in: snapshot)
            }
            let states = versions.map { record in
                "\(record.version) " + (record.isLoading ? "is loading" : record.failure.map { "failed: \($0.code): \($0.message)" } ?? "is not ready")
            }
            throw ModelHostError(.modelNotReady, "model \"\(name)\" has no ready version (\(states.joined(separator: "; ")))")
        } catch {
            return HTTPResponse(error: error)
        }
    }

    /// `unload`: checks what is asked, then has the control unload it and answers with the model
    /// as it is afterwards.
    ///
    /// - Parameter version: One version, or `nil` for the whole model.
    func unload(_ name: String, version: String?, body: ByteBuffer, request: AdmittedRequest, finish: @escaping @Sendable (HTTPResponse) -> Void) {
        let control: any ModelControl
        do throws(ModelHostError) {
            if let version {
                _ = try ControlBody(body, shape: "{}", allowed: [], allowsEmpty: true)
                try checkUnload(name, version: version)
            } else {
                try Self.checkRepositoryBody(body, route: "unload")
            }
            guard let wired = self.control else {
                var response = HTTPResponse(error: ModelHostError(
                    .unavailable,
                    "unloading needs the models directory watcher, which this server does not run; remove the bundle from the models directory and restart the server instead"
                ))
                // Retrying does not help: the server lacks the part, not the capacity.
                response.headers.remove(name: "Retry-After")
                finish(response)
                return
            }
            control = wired
        } catch {
            finish(HTTPResponse(error: error))
            return
        }
        logger.notice("unload", metadata: [
            "model": "\(name)", "version": "\(version ?? "every")", "key": "\(request.keyID ?? "-")", "request": "\(request.requestID)",
        ])
        let registry = self.registry
        Task {
            do throws(ModelHostError) {
                let changed = try await control.unload(model: name, version: version)
                finish(Self.controlResponse(model: name, changed: changed, in: registry.snapshot))
            } catch {
                finish(HTTPResponse(error: error))
            }
        }
    }

    /// Refuses to unload a version that is gone, pinned, or the model's last ready one.
    private func checkUnload(_ name: String, version: String) throws(ModelHostError) {
        let snapshot = registry.snapshot
        guard let versions = snapshot.models[name] else {
            throw ModelHostError(.modelNotFound, "model \"\(name)\" is not known to this server")
        }
        guard let record = versions.first(where: { $0.version == version }) else {
            throw ModelHostError(.modelNotFound, "model \"\(name)\" has no version \"\(version)\" (known: \(versions.map(\.version).joined(separator: ", ")))")
        }
        if snapshot.rollouts[name]?.pinned == version {
            throw ModelHostError(.invalidRequest, "\(version) is pinned; unpin it first (POST /admin/models/\(name)/unpin)")
        }
        if record.isReady, snapshot.readyVersions(of: name) == [version] {
            throw ModelHostError(
                .invalidRequest,
                "unloading \(version) would leave \(name) with no ready version to serve; to take the whole model away, POST /v2/repository/models/\(name)/unload"
            )
        }
    }

    /// Refuses a repository body with anything but empty `parameters`: this server takes no
    /// load or unload parameters.
    private static func checkRepositoryBody(_ body: ByteBuffer, route: String) throws(ModelHostError) {
        let fields = try ControlBody(body, shape: repositoryBodyShape, allowed: ["parameters"], allowsEmpty: true)
        if let parameters = try fields.object("parameters"), !parameters.isEmpty {
            let names = parameters.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw ModelHostError(.invalidRequest, "\(route) takes no parameters on this server (got \(names)); bundles and their settings come from the models directory")
        }
    }
}
