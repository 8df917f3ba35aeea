import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The POSIX file operations behind ``KeyFile`` and ``KeyFileMonitor``.
enum KeyFileIO {
    /// The largest keys file read; anything bigger is surely not one.
    static let maximumSize = 16 << 20

    /// Reads the whole file at `path` and the identity of what was read (from `fstat` on the same
    /// descriptor, so a concurrent rename cannot mismatch the two).
    static func readFile(_ path: String) throws(KeyFileError) -> (data: Data, identity: FileIdentity) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw error(errno, path: path, doing: "cannot open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw error(errno, path: path, doing: "cannot stat") }
        guard Int(status.st_size) <= maximumSize else {
            throw KeyFileError(.invalid, path: path, message: "larger than \(maximumSize) bytes; not a keys file")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw error(errno, path: path, doing: "cannot read")
            }
            data.append(contentsOf: buffer[..<count])
            if data.count > maximumSize {
                throw KeyFileError(.invalid, path: path, message: "larger than \(maximumSize) bytes; not a keys file")
            }
        }
        return (data, FileIdentity(status))
    }

    /// The identity of the file at `path` (following symbolic links), or `nil` when there is none.
    static func identity(_ path: String) throws(KeyFileError) -> FileIdentity? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw error(errno, path: path, doing: "cannot stat")
        }
        return FileIdentity(status)
    }

    /// Writes `data` to a temporary file beside `path`, syncs it, renames it to `path`, and syncs
    /// the directory.
    static func writeAtomically(_ data: Data, to path: String, mode: mode_t) throws(KeyFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(base).\(suffix).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw error(errno, path: temporary, doing: "cannot create") }
        var isRenamed = false
        defer { if !isRenamed { unlink(temporary) } }
        do {
            defer { close(descriptor) }
            // The umask may have removed bits; the mode must be exactly `mode`.
            guard fchmod(descriptor, mode) == 0 else { throw error(errno, path: temporary, doing: "cannot chmod") }
            var written = 0
            while written < data.count {
                let count = data.withUnsafeBytes { bytes in
                    write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw error(errno, path: temporary, doing: "cannot write")
                }
                written += count
            }
            guard fsync(descriptor) == 0 else { throw error(errno, path: temporary, doing: "cannot sync") }
        }
        guard rename(temporary, path) == 0 else { throw error(errno, path: path, doing: "cannot rename \(temporary) to") }
        isRenamed = true
        // Make the rename itself durable; failure here leaves a correct file, so it is not reported.
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// Runs `body` holding an exclusive `flock` on `lockPath`, created with mode `0600` if needed.
    static func withExclusiveLock<Result>(
        path lockPath: String,
        _ body: () throws(KeyFileError) -> Result
    ) throws(KeyFileError) -> Result {
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw error(errno, path: lockPath, doing: "cannot open lock file") }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw error(errno, path: lockPath, doing: "cannot lock") }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    private static func error(_ number: Int32, path: String, doing action: String) -> KeyFileError {
        let reason = String(cString: strerror(number))
        if number == ENOENT { return KeyFileError(.notFound, path: path, message: "\(action) the file: \(reason)") }
        return KeyFileError(.io, path: path, message: "\(action) the file: \(reason)")
    }
}
