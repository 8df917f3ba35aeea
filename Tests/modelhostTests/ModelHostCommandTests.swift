import Foundation
import ModelHostCore
import ModelHostTestKit
import Testing

/// The `modelhost` binary as an operator runs it.
@Suite struct ModelHostCommandTests {
    /// Runs the binary with `arguments` and waits for it.
    private func modelhost(_ arguments: String...) async throws -> ModelHostRun {
        try await ModelHostRun.run(arguments)
    }

    private func temporaryDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modelhost-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    @Test func keysAreShownOnceAndStoredOnlyAsHashes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/keys.json"

        let created = try await modelhost("keys", "create", "--file", file, "--name", "billing", "--scope", "infer", "--models", "echo")
        #expect(created.status == 0)
        let key = created.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.range(of: #"^mh_[a-z2-7]{12}_[0-9A-Za-z]{38}$"#, options: .regularExpression) != nil)
        let id = String(key.dropFirst(3).prefix(12))

        let stored = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!stored.contains(key))
        #expect(!stored.contains(String(key.dropFirst(16))))
        #expect(stored.contains(id))
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let listed = try await modelhost("keys", "list", "--file", file)
        #expect(listed.status == 0)
        #expect(listed.output.contains(id))
        #expect(listed.output.contains("billing"))
        #expect(!listed.output.contains(key))

        let revoked = try await modelhost("keys", "revoke", "--file", file, id)
        #expect(revoked.status == 0)
        let unknown = try await modelhost("keys", "revoke", "--file", file, "aaaaaaaaaaaa")
        #expect(unknown.status != 0)
    }

    @Test func serveRefusesToStartWithoutKeysOrAnExplicitOptOut() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try await modelhost("serve", "--models", directory, "--port", "0")
        #expect(run.status != 0)
        #expect(run.errors.contains("--keys"))
        #expect(run.errors.contains("--insecure-no-auth"))
    }

    @Test func validateNamesTheFailedCheck() async throws {
        let models = try ModelsDirectory()
        let good = try models.addExample("echo")
        let ok = try await modelhost("validate", good)
        #expect(ok.status == 0)
        #expect(ok.output.hasPrefix("ok: echo 1.0.0"))
        // validate maps a verified copy too, from a temporary cache of its own, never the models directory.
        #expect(!FileManager.default.fileExists(atPath: models.path + "/.modelhost"))

        let tampered = try models.addExample("echo", version: "1.0.1")
        let library = tampered + "/libEchoPlugin.so"
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: library))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("tampered".utf8))
        try handle.close()
        let refused = try await modelhost("validate", tampered)
        #expect(refused.status == 1)
        #expect(refused.output.contains("checksum_mismatch"))
    }

    @Test func bundleFillsInTheChecksumAndStagesTheBundle() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let library = try TestPaths.builtLibrary("libEchoPlugin.so")
        let bundled = try await modelhost("bundle", "--manifest", TestPaths.manifest("echo"), "--library", library, "--out", directory)
        #expect(bundled.status == 0)
        #expect(bundled.output.trimmingCharacters(in: .whitespacesAndNewlines) == directory + "/echo/1.0.0")
        #expect(try await modelhost("validate", directory + "/echo/1.0.0").status == 0)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory + "/echo")
        #expect(leftovers == ["1.0.0"])
        let again = try await modelhost("bundle", "--manifest", TestPaths.manifest("echo"), "--library", library, "--out", directory)
        #expect(again.status != 0)
        #expect(again.errors.contains("--force"))
    }

    @Test func bundleListsEveryArtifactWithItsDigest() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let artifact = TestPaths.packageRoot.appendingPathComponent("plugins/intent-classifier/artifacts/intent-model.json").path
        let notes = directory + "/NOTES.txt"
        try Data("trained on synthetic data".utf8).write(to: URL(fileURLWithPath: notes))
        let bundled = try await modelhost(
            "bundle", "--manifest", TestPaths.manifest("intent-classifier"), "--library", TestPaths.builtLibrary("libIntentClassifierPlugin.so"),
            "--artifact", notes, "--artifact", artifact, "--out", directory + "/models"
        )
        #expect(bundled.status == 0, "\(bundled.errors)")
        let bundle = directory + "/models/intent-classifier/1.0.0"
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json"))) as? [String: Any])
        let artifacts = try #require(manifest["artifacts"] as? [[String: String]])
        // The manifest's own entry keeps its place; an artifact it does not list is added after.
        #expect(artifacts == [
            ["path": "intent-model.json", "sha256": try SHA256.hexDigest(ofFileAt: artifact)],
            ["path": "NOTES.txt", "sha256": try SHA256.hexDigest(ofFileAt: notes)],
        ])
        #expect(try await modelhost("validate", bundle).status == 0)

        try Data("{}".utf8).write(to: URL(fileURLWithPath: bundle + "/intent-model.json"))
        let tampered = try await modelhost("validate", bundle)
        #expect(tampered.status == 1)
        #expect(tampered.output.contains("checksum_mismatch: artifact \"intent-model.json\" has SHA-256"))
    }

    @Test func bundleRefusesAManifestListingAnArtifactNotGiven() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bundled = try await modelhost(
            "bundle", "--manifest", TestPaths.manifest("intent-classifier"), "--library", TestPaths.builtLibrary("libIntentClassifierPlugin.so"),
            "--out", directory
        )
        #expect(bundled.status != 0)
        #expect(bundled.errors.contains("the manifest lists artifact \"intent-model.json\", which no --artifact names"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/intent-classifier/1.0.0"))
    }
}
