import Dispatch
import Foundation

/// Runs the reconcile loop's blocking file work — listing folders, `stat`, the verifier's reads
/// and checksum — on a queue of its own, never on Swift's cooperative threads.
struct FileWork: Sendable {
    private let queue = DispatchQueue(label: "modelhost.reconciler.files")

    /// Runs `body` on the queue and returns its result.
    func run<Value: Sendable>(_ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }
}

/// What the loop finds in the models directory, and the watches that keep it told.
///
/// Every folder is watched before it is listed, so whatever appears in it after the listing is
/// reported by an event; whatever appeared before is in the listing.
struct ModelsScanner: Sendable {
    /// The models directory, without a trailing `/`.
    let root: String
    /// The watcher to add watches to, or `nil` when the loop only rescans.
    let watcher: DirectoryWatcher?

    /// Everything found by one look, and the folders that could not be watched.
    struct Findings<Value: Sendable>: Sendable {
        /// What was found.
        var value: Value
        /// Watches that failed for a reason other than the folder being gone.
        var watchFailures: [DirectoryWatcher.WatchError] = []
    }

    /// The bundle folder of `key`.
    func directory(of key: BundleKey) -> String {
        root + "/" + key.name + "/" + key.version
    }

    /// Every bundle in the models directory, by model and version.
    ///
    /// - Returns: `nil` in ``Findings/value`` when the models directory cannot be listed, with
    ///   the reason.
    func scanAll() -> (Findings<[String: [String: BundleFingerprint]]?>, reason: String?) {
        var findings = Findings<[String: [String: BundleFingerprint]]?>(value: nil)
        watch(root, into: &findings.watchFailures)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: root)
        } catch {
            return (findings, error.localizedDescription)
        }
        var models: [String: [String: BundleFingerprint]] = [:]
        for name in names.sorted() where !name.hasPrefix(".") {
            let model = scanModel(name)
            findings.watchFailures += model.watchFailures
            if let versions = model.value { models[name] = versions }
        }
        findings.value = models
        return (findings, nil)
    }

    /// Every bundle of the model `name`.
    ///
    /// - Returns: `nil` in ``Findings/value`` when there is no such model folder.
    func scanModel(_ name: String) -> Findings<[String: BundleFingerprint]?> {
        var findings = Findings<[String: BundleFingerprint]?>(value: nil)
        let folder = root + "/" + name
        guard Self.isDirectory(folder) else { return findings }
        watch(folder, into: &findings.watchFailures)
        guard let versions = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return findings }
        var bundles: [String: BundleFingerprint] = [:]
        for version in versions.sorted() where !version.hasPrefix(".") {
            let bundle = scanBundle(BundleKey(name: name, version: version))
            findings.watchFailures += bundle.watchFailures
            if let fingerprint = bundle.value { bundles[version] = fingerprint }
        }
        findings.value = bundles
        return findings
    }

    /// The fingerprint of one bundle folder, watched first.
    ///
    /// - Returns: `nil` in ``Findings/value`` when there is no such folder.
    func scanBundle(_ key: BundleKey) -> Findings<BundleFingerprint?> {
        var findings = Findings<BundleFingerprint?>(value: nil)
        let folder = directory(of: key)
        guard Self.isDirectory(folder) else { return findings }
        watch(root + "/" + key.name, into: &findings.watchFailures)
        watch(folder, into: &findings.watchFailures)
        findings.value = BundleFingerprint.take(of: folder)
        return findings
    }

    private func watch(_ folder: String, into failures: inout [DirectoryWatcher.WatchError]) {
        guard let watcher else { return }
        do {
            try watcher.watch(folder)
        } catch where !error.isMissing {
            failures.append(error)
        } catch {}
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
