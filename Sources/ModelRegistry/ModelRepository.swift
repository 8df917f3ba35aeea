import Foundation
import ModelHostCore
import ModelManifest
import PluginLoader
import Scheduler

/// Owns the models directory: finds the bundles in it, has the Scheduler load each, and records
/// the outcome in the registry.
///
/// The directory holds `<name>/<version>/` bundles. Entries whose names start with `.` are
/// skipped (staging areas for copies in progress). Every bundle found is registered as loading
/// at once, so the repository index shows it while it loads; one bad or slow bundle never stops
/// the others. This is the initial load; from then on a ``ModelReconciler`` follows the directory.
public actor ModelRepository {
    /// Where the repository reads from and how it loads.
    public struct Configuration: Sendable {
        /// The models directory.
        public var directory: String
        /// Bundles loaded at the same time. A load that hangs holds its place until the load
        /// timeout. Default 4.
        public var maxConcurrentLoads: Int = 4

        /// Creates a configuration for `directory`.
        public init(directory: String) {
            self.directory = directory
        }
    }

    /// The outcome of loading one bundle.
    public struct Report: Sendable {
        /// The record the registry now holds.
        public var record: ModelVersionRecord
    }

    /// Where the repository reads from; the reconciler watches the same directory.
    let configuration: Configuration
    /// Where outcomes are recorded.
    let registry: ModelRegistry
    /// What loads the bundles.
    let scheduler: Scheduler
    /// The fingerprint of each bundle ``loadAll(onReport:)`` judged, taken just before its load,
    /// so the reconciler that takes over knows whether the bundle changed since.
    private(set) var loadedFingerprints: [BundleKey: BundleFingerprint] = [:]

    /// Creates a repository that loads through `scheduler` and registers what it loads in
    /// `registry`.
    public init(configuration: Configuration, registry: ModelRegistry, scheduler: Scheduler) {
        self.configuration = configuration
        self.registry = registry
        self.scheduler = scheduler
    }

    /// Loads every bundle in the directory and registers each, ready or failed; then marks the
    /// registry's initial load complete.
    ///
    /// - Parameter onReport: Called as each bundle finishes loading, for the log.
    /// - Returns: One report per bundle, in name and version order.
    /// - Throws: ``ModelHostError`` only when the models directory itself cannot be read; the
    ///   initial load is then marked complete with nothing loaded.
    @discardableResult
    public func loadAll(onReport: @Sendable (Report) -> Void = { _ in }) async throws(ModelHostError) -> [Report] {
        let bundles: [Candidate]
        do {
            bundles = try discoverBundles()
        } catch {
            registry.markInitialLoadComplete()
            throw error
        }
        for candidate in bundles {
            registry.register(ModelVersionRecord(name: candidate.name, version: candidate.version, directory: candidate.directory, manifest: nil, state: .loading))
        }
        var reports: [Report] = []
        var pending = bundles[...]
        await withTaskGroup(of: (Report, BundleFingerprint?).self) { group in
            for _ in 0..<max(1, configuration.maxConcurrentLoads) {
                guard let next = pending.popFirst() else { break }
                group.addTask { await self.load(next) }
            }
            for await (report, fingerprint) in group {
                loadedFingerprints[BundleKey(name: report.record.name, version: report.record.version)] = fingerprint
                reports.append(report)
                onReport(report)
                if let next = pending.popFirst() {
                    group.addTask { await self.load(next) }
                }
            }
        }
        registry.markInitialLoadComplete()
        return reports.sorted { ($0.record.name, $0.record.version) < ($1.record.name, $1.record.version) }
    }

    private struct Candidate: Sendable {
        var name: String
        var version: String
        var directory: String
    }

    private nonisolated func load(_ candidate: Candidate) async -> (Report, BundleFingerprint?) {
        let fingerprint = BundleFingerprint.take(of: candidate.directory)
        let record: ModelVersionRecord
        switch await scheduler.load(bundleAt: candidate.directory, name: candidate.name, version: candidate.version) {
        case .success(let loaded):
            record = ModelVersionRecord(
                name: candidate.name, version: candidate.version, directory: loaded.directory,
                manifest: loaded.manifest, state: .ready(loaded.serving, loaded.validator)
            )
        case .failure(let error):
            let manifest = try? Manifest.load(contentsOf: candidate.directory + "/" + BundleVerifier.manifestFileName)
            record = ModelVersionRecord(
                name: candidate.name, version: candidate.version, directory: candidate.directory,
                manifest: manifest, state: .failed(error)
            )
        }
        registry.register(record)
        return (Report(record: record), fingerprint)
    }

    private func discoverBundles() throws(ModelHostError) -> [Candidate] {
        let root = configuration.directory
        let files = FileManager.default
        let names: [String]
        do {
            names = try files.contentsOfDirectory(atPath: root)
        } catch {
            throw ModelHostError(.internal, "the models directory \(root) cannot be read: \(error.localizedDescription)")
        }
        var candidates: [Candidate] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let modelDirectory = root + "/" + name
            guard Self.isDirectory(modelDirectory), let versions = try? files.contentsOfDirectory(atPath: modelDirectory) else { continue }
            for version in versions.sorted() where !version.hasPrefix(".") {
                let directory = modelDirectory + "/" + version
                guard Self.isDirectory(directory) else { continue }
                candidates.append(Candidate(name: name, version: version, directory: directory))
            }
        }
        return candidates
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
