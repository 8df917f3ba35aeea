import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the models' rollout states are kept between runs: one JSON file, written so that a
/// crash leaves the old file or the new one, never a torn one (a temporary file, `fsync`,
/// `rename`, then an `fsync` of the directory).
public struct RolloutStore: Sendable {
    /// What loading found.
    public enum Loaded: Sendable {
        /// No file: nothing was saved yet.
        case none
        /// The saved states.
        case states([String: RolloutState])
        /// The file could not be read as rollout state; it was moved to `setAside` so nothing is
        /// lost, and the server starts with defaults.
        case damaged(reason: String, setAside: String)
    }

    /// The file's path.
    public let path: String

    private struct File: Codable {
        var formatVersion: Int
        var models: [String: RolloutState]
    }

    /// A store at `path`, normally `<models>/.modelhost/rollout.json`.
    public init(path: String) {
        self.path = path
    }

    /// The store of a models directory: `<models>/.modelhost/rollout.json`.
    public init(modelsDirectory: String) {
        self.init(path: modelsDirectory + "/.modelhost/rollout.json")
    }

    /// Reads the saved states. A damaged file is set aside under a new name.
    public func load() -> Loaded {
        guard let data = FileManager.default.contents(atPath: path) else { return .none }
        do {
            let file = try JSONDecoder().decode(File.self, from: data)
            guard file.formatVersion == 1 else {
                return setAside(reason: "format version \(file.formatVersion) is not 1")
            }
            return .states(file.models)
        } catch {
            return setAside(reason: "it is not rollout state: \(error)")
        }
    }

    private func setAside(reason: String) -> Loaded {
        let stamp = Int(Date().timeIntervalSince1970)
        var destination = "\(path).damaged-\(stamp)"
        var suffix = 1
        while FileManager.default.fileExists(atPath: destination) {
            destination = "\(path).damaged-\(stamp)-\(suffix)"
            suffix += 1
        }
        guard rename(path, destination) == 0 else {
            return .damaged(reason: reason + "; it could not be moved aside (\(String(cString: strerror(errno)))) and stays at \(path)", setAside: path)
        }
        return .damaged(reason: reason, setAside: destination)
    }

    /// Saves `states`, replacing the file at once.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/internal`` naming the step that
    ///   failed; the previous file is then still whole.
    public func save(_ states: [String: RolloutState]) throws(ModelHostError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do {
            data = try encoder.encode(File(formatVersion: 1, models: states.filter { !$0.value.isDefault }))
        } catch {
            throw ModelHostError(.internal, "the rollout state cannot be encoded: \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ModelHostError(.internal, "\(directory) cannot be created: \(error.localizedDescription)")
        }
        let temporary = "\(directory)/.rollout.\(getpid()).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("open", temporary) }
        let written = data.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let count = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += count
            }
            return true
        }
        guard written, fsync(descriptor) == 0 else {
            let error = Self.failure(written ? "fsync" : "write", temporary)
            close(descriptor)
            unlink(temporary)
            throw error
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let error = Self.failure("rename", path)
            unlink(temporary)
            throw error
        }
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw Self.failure("open", directory) }
        defer { close(directoryDescriptor) }
        guard fsync(directoryDescriptor) == 0 else { throw Self.failure("fsync", directory) }
    }

    private static func failure(_ step: String, _ path: String) -> ModelHostError {
        ModelHostError(.internal, "saving the rollout state: \(step) \(path) failed: \(String(cString: strerror(errno)))")
    }
}
