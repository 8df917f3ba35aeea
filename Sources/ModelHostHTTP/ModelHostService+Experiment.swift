import ModelHostCore
import ModelRegistry
import NIOHTTP1

/// `GET /admin/models/{m}/experiment`: a model's canary or split variants side by side.
extension ModelHostService {
    /// The experiment report on `name` (see ``ExperimentReport``); a model outside a canary or
    /// split reports its one active version.
    func experiment(_ name: String) throws(ModelHostError) -> HTTPResponse {
        let snapshot = registry.snapshot
        guard snapshot.models[name] != nil else {
            throw ModelHostError(.modelNotFound, "model \"\(name)\" is not known to this server")
        }
        return .json(.ok, ExperimentReport(model: name, snapshot: snapshot).json)
    }
}
