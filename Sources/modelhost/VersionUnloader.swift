import ModelHostCore
import ModelHostHTTP
import ModelRegistry
import Scheduler

/// Unloads versions on an operator's request: out of the registry at once, so no new request
/// resolves to them, then drained and shut down through the Scheduler. The bundle stays on disk;
/// the models directory watcher loads it again only if it changes.
struct VersionUnloader: ModelControl {
    let registry: ModelRegistry
    let scheduler: Scheduler
    let gracePeriod: Duration

    func unload(model: String, version: String?) async throws(ModelHostError) -> String {
        let known: [String] = registry.snapshot.models[model]?.map(\.version) ?? []
        let versions = known.filter { version == nil || $0 == version }
        guard !versions.isEmpty else {
            throw ModelHostError(.modelNotFound, "model \"\(model)\"\(version.map { " has no version \($0)" } ?? " is not known to this server")")
        }
        var unloaded: [String] = []
        for candidate in versions {
            guard let record = registry.remove(name: model, version: candidate) else { continue }
            if let serving = record.serving {
                _ = await scheduler.shutDown(serving, gracePeriod: gracePeriod)
            }
            unloaded.append(candidate)
        }
        return unloaded.joined(separator: ", ") + (unloaded.count == 1 ? " is unloaded" : " are unloaded")
    }
}
