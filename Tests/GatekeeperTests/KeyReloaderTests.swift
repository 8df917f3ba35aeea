import Foundation
import Gatekeeper
import ModelHostTestKit
import Testing

/// The real-time integration test of key rotation: the file changes, the server's keys follow.
@Suite struct KeyReloaderTests {
    private func admits(_ gatekeeper: Gatekeeper<ContinuousClock>, _ key: APIKey) -> Bool {
        // A fresh address each time, so polling with a not-yet-valid key never locks the test out.
        let address = "10.0.\(Int.random(in: 0...255)).\(Int.random(in: 0...255))"
        return gatekeeper.admit(AdmissionRequest(access: .metadata, credential: key.reveal(), clientAddress: address)).isAdmitted
    }

    /// Polls `condition` every 20 ms for up to `limit`.
    private func eventually(within limit: Duration = .seconds(10), _ condition: () async -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return await condition()
    }

    @Test func rotationWithoutRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("keys.json").path

        var file = KeyFile(path: path)
        let old = try file.create(name: "old", scopes: [.infer], now: Date()).key
        try file.save()
        let gatekeeper = Gatekeeper(keys: KeyRing(records: file.records), clock: ContinuousClock())
        var configuration = KeyReloader<ContinuousClock>.Configuration(path: path)
        configuration.interval = .milliseconds(50)
        let reloader = KeyReloader(configuration: configuration, environmentKeys: [], clock: ContinuousClock())
        let watching = Task { await reloader.run(updating: gatekeeper) }
        defer { watching.cancel() }

        // A new key, created by another process's tool, becomes valid; the old one stays valid.
        let new = try KeyFile.update(at: path) { (file: inout KeyFile) throws(KeyFileError) in try file.create(name: "new", scopes: [.infer], now: Date()).key }
        #expect(try await eventually { admits(gatekeeper, new) })
        #expect(admits(gatekeeper, old))

        // Revoking the old key takes effect without a restart.
        try KeyFile.update(at: path) { (file: inout KeyFile) throws(KeyFileError) in _ = try file.revoke(id: old.id, now: Date()) }
        #expect(try await eventually { !admits(gatekeeper, old) })
        #expect(admits(gatekeeper, new))

        // An unreadable file keeps the keys in force.
        try "not json".write(toFile: path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(300))
        #expect(admits(gatekeeper, new))
    }
}
