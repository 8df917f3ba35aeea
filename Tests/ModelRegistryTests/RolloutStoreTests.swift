import Foundation
import ModelHostTestKit
import ModelRegistry
import Testing

/// Rollout state saved and read back, and a damaged file set aside rather than lost.
struct RolloutStoreTests {
    private func state() -> RolloutState {
        var state = RolloutState()
        state.active = "1.0.0"
        state.history = ["1.1.0"]
        state.rolledBack = ["1.1.0": "rolled back by an operator"]
        state.canary = .init(version: "1.2.0", percent: 5)
        return state
    }

    @Test func savedStateIsReadBackWhole() throws {
        let models = try ModelsDirectory()
        let store = RolloutStore(modelsDirectory: models.path)
        guard case .none = store.load() else {
            Issue.record("a store without a file loaded something")
            return
        }
        try store.save(["intent": state(), "echo": RolloutState()])
        guard case .states(let loaded) = store.load() else {
            Issue.record("the saved state was not read back")
            return
        }
        // Models with nothing decided are not written.
        #expect(loaded == ["intent": state()])
        // Only the file is left behind: no temporary file.
        let files = try FileManager.default.contentsOfDirectory(atPath: models.path + "/.modelhost")
        #expect(files == ["rollout.json"])
        let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test(arguments: ["{ not json", #"{"formatVersion": 2, "models": {}}"#, #"{"formatVersion": 1, "models": {"m": {"active": 3}}}"#])
    func aDamagedFileIsSetAsideAndReported(content: String) throws {
        let models = try ModelsDirectory()
        let store = RolloutStore(modelsDirectory: models.path)
        try FileManager.default.createDirectory(atPath: models.path + "/.modelhost", withIntermediateDirectories: true)
        try content.write(toFile: store.path, atomically: true, encoding: .utf8)
        guard case .damaged(let reason, let setAside) = store.load() else {
            Issue.record("a damaged file was read as state")
            return
        }
        #expect(!reason.isEmpty)
        #expect(setAside.hasPrefix(store.path + ".damaged-"))
        #expect(try String(contentsOfFile: setAside, encoding: .utf8) == content)
        #expect(!FileManager.default.fileExists(atPath: store.path))
        // The next save starts afresh.
        try store.save(["intent": state()])
        guard case .states = store.load() else {
            Issue.record("a save after a damaged file did not load")
            return
        }
    }
}
