import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#endif

/// A directory of private, read-only, content-addressed copies of plugin libraries, named
/// `<sha256>.so`, from which the loader maps them instead of from their bundles.
///
/// The loader hashes a bundle's library when it verifies the bundle, and maps it a moment later:
/// without a cache, the file at the bundle's path could change in between, and a bundle deployed
/// again at the same path with new code would get the image `dlopen` already holds for that path
/// (it matches loaded libraries by name). A copy closes both: it is written by this process into
/// a directory only this process's user can change, hashed after it is written, renamed into
/// place only when its digest is the manifest's, never written again, and mapped by a path that
/// is its digest. New bytes get a new path, so `dlopen` maps them; the same bytes in two bundles
/// get the same path and are mapped once, sharing the library's global state.
///
/// Only the library is copied: one that finds other libraries next to it through `$ORIGIN`
/// would not find them here, so a plugin must be a single library (with system and toolchain
/// dependencies). Copies are never removed by the host; a copy no bundle names any more can be
/// deleted while the server is stopped.
public struct LibraryCache: Sendable, Hashable {
    /// The cache directory, normally `<models>/.modelhost/libs` (the models scanner skips names
    /// starting with `.`). Created with mode 0700 when missing, with any missing parents.
    public var directory: String

    /// The mode of every copy: read-only for everyone. `dlopen` maps a regular file with only
    /// read access (`PROT_EXEC` needs a file opened for reading on a file system mounted
    /// without `noexec`, not the file's execute bit).
    public static let copyMode: mode_t = 0o444

    /// Creates a cache in `directory`; nothing is touched until the first copy.
    ///
    /// - Parameter directory: The cache directory.
    public init(directory: String) {
        self.directory = directory
    }

    /// Where the copy of the library with digest `sha256` lives, under ``directory`` as given.
    ///
    /// - Parameter sha256: The library's SHA-256, 64 lowercase hexadecimal characters.
    /// - Returns: `<directory>/<sha256>.so`.
    public func path(forSHA256 sha256: String) -> String {
        directory + "/" + sha256 + ".so"
    }

    /// The path of a verified copy of the library at `source`, whose manifest says its SHA-256 is
    /// `sha256`: the copy already in the cache when it is a read-only regular file of this user
    /// whose digest is `sha256`, else a new copy of `source`.
    ///
    /// A new copy is written to a temporary name in the cache directory, flushed to disk, made
    /// read-only (``copyMode``) and hashed; only when its digest is `sha256` is it renamed into
    /// place, replacing whatever was there. So the file at the returned path never held other
    /// bytes, and a library changed after its bundle was verified is refused, not loaded.
    ///
    /// Blocks on file I/O: call it where the loader runs, on a thread the host owns.
    ///
    /// - Parameters:
    ///   - source: The library inside a verified bundle.
    ///   - sha256: The digest the bundle's manifest gives for it.
    ///   - bundle: The bundle directory, for errors.
    /// - Returns: The copy's path, with the cache directory's symlinks resolved: the path to
    ///   `dlopen`.
    /// - Throws: ``BundleError`` with ``BundleError/Code/insecurePermissions`` when the cache
    ///   directory is writable by group or others, is owned by another user, or sits in a
    ///   directory others may write without the sticky bit;
    ///   ``BundleError/Code/checksumMismatch`` when the copy's digest is not `sha256` (the
    ///   library changed after it was verified), or `sha256` is not a SHA-256;
    ///   ``BundleError/Code/libraryCacheFailed`` when the directory or the copy cannot be made.
    public func verifiedCopy(ofLibraryAt source: String, sha256: String, bundle: String) throws(BundleError) -> String {
        guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw BundleError(.checksumMismatch, bundle: bundle, "\"\(sha256)\" is not a SHA-256 (64 lowercase hexadecimal characters); the library cannot be cached under it")
        }
        let (root, directoryDescriptor) = try openDirectory(bundle: bundle)
        defer { close(directoryDescriptor) }
        let name = sha256 + ".so"
        let copyPath = root + "/" + name
        if try existingCopy(named: name, in: directoryDescriptor, matches: sha256, bundle: bundle) {
            return copyPath
        }
        try writeCopy(of: source, named: name, in: directoryDescriptor, root: root, sha256: sha256, bundle: bundle)
        return copyPath
    }

    // MARK: The directory

    /// Creates the cache directory if it is missing, checks who may change it, and opens it.
    ///
    /// - Returns: The directory with symlinks resolved, and a descriptor of it.
    private func openDirectory(bundle: String) throws(BundleError) -> (String, Int32) {
        try createIfMissing(bundle: bundle)
        guard let root = BundleVerifier.realPath(directory) else {
            throw failure("the library cache \(directory) cannot be resolved: \(Self.lastError())", bundle: bundle)
        }
        let descriptor = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw failure("the library cache \(root) cannot be opened: \(Self.lastError())", bundle: bundle)
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = Self.lastError()
            close(descriptor)
            throw failure("the library cache \(root) cannot be read: \(reason)", bundle: bundle)
        }
        if let problem = Self.insecurity(of: info, owner: geteuid()) {
            close(descriptor)
            throw BundleError(.insecurePermissions, bundle: bundle, "the library cache \(root) \(problem)")
        }
        let parent = (root as NSString).deletingLastPathComponent
        var parentInfo = stat()
        if stat(parent, &parentInfo) == 0, parentInfo.st_mode & (S_IWGRP | S_IWOTH) != 0, parentInfo.st_mode & S_ISVTX == 0 {
            close(descriptor)
            throw BundleError(
                .insecurePermissions, bundle: bundle,
                "the directory \(parent) holding the library cache is writable by group or others (mode \(String(parentInfo.st_mode & 0o777, radix: 8))) without the sticky bit, so others could replace the cache; run chmod go-w on it"
            )
        }
        return (root, descriptor)
    }

    /// What makes a cache directory unsafe, or `nil` when it is safe: anything but a directory
    /// owned by `owner` that group and others cannot write.
    static func insecurity(of info: stat, owner: uid_t) -> String? {
        guard info.st_mode & S_IFMT == S_IFDIR else { return "is not a directory" }
        guard info.st_uid == owner else {
            return "is owned by user \(info.st_uid), not by this process's user \(owner); remove it, or chown it to \(owner)"
        }
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            return "is writable by group or others (mode \(String(info.st_mode & 0o777, radix: 8))); run chmod go-w on it"
        }
        return nil
    }

    /// Makes the cache directory and any missing parents, each with mode 0700.
    private func createIfMissing(bundle: String) throws(BundleError) {
        var missing: [String] = []
        var candidate = URL(fileURLWithPath: directory).standardizedFileURL.path
        while !candidate.isEmpty, candidate != "/", access(candidate, F_OK) != 0 {
            missing.append(candidate)
            candidate = (candidate as NSString).deletingLastPathComponent
        }
        for path in missing.reversed() {
            if mkdir(path, 0o700) != 0, errno != EEXIST {
                throw failure("the library cache directory \(path) cannot be created: \(Self.lastError())", bundle: bundle)
            }
            // The umask may have taken bits from 0700; it can never have added any.
            chmod(path, 0o700)
        }
    }

    // MARK: Copies

    /// Whether the cache already holds a good copy named `name`: a regular file of this user,
    /// writable by nobody, whose digest is `sha256`. Anything else there is replaced.
    private func existingCopy(named name: String, in directory: Int32, matches sha256: String, bundle: String) throws(BundleError) -> Bool {
        let descriptor = openat(directory, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            // Missing, a symlink (ELOOP), a FIFO, unreadable: a fresh copy replaces it.
            return false
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == geteuid(),
              info.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH) == 0
        else { return false }
        return (try? Self.digest(of: descriptor)) == sha256
    }

    /// Copies `source` to a temporary name, flushes, makes it read-only, hashes it, and renames
    /// it to `name` only when its digest is `sha256`; removes the temporary file otherwise.
    private func writeCopy(of source: String, named name: String, in directory: Int32, root: String, sha256: String, bundle: String) throws(BundleError) {
        let temporary = ".\(name).\(UUID().uuidString).partial"
        let copy = openat(directory, temporary, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard copy >= 0 else {
            throw failure("a copy of the library cannot be created in the library cache \(root): \(Self.lastError())", bundle: bundle)
        }
        var isInPlace = false
        defer {
            close(copy)
            if !isInPlace { unlinkat(directory, temporary, 0) }
        }
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw BundleError(.libraryMissing, bundle: bundle, "the library \(source) cannot be read to copy it: \(Self.lastError())")
        }
        defer { close(input) }
        if let problem = Self.copyBytes(from: input, to: copy) {
            throw failure("the library cannot be copied into the library cache \(root): \(problem)", bundle: bundle)
        }
        guard fsync(copy) == 0, fchmod(copy, Self.copyMode) == 0 else {
            throw failure("the copy of the library in the library cache \(root) cannot be flushed or made read-only: \(Self.lastError())", bundle: bundle)
        }
        let actual: String
        do {
            actual = try Self.digest(of: copy)
        } catch {
            throw failure("the copy of the library in the library cache \(root) cannot be read back: \(error.reason)", bundle: bundle)
        }
        guard actual == sha256 else {
            throw BundleError(
                .checksumMismatch, bundle: bundle,
                "the copy of the library has SHA-256 \(actual), the manifest says \(sha256): the library changed after it was verified; nothing was loaded"
            )
        }
        guard renameat(directory, temporary, directory, name) == 0 else {
            throw failure("the copy of the library cannot be renamed into place in the library cache \(root): \(Self.lastError())", bundle: bundle)
        }
        isInPlace = true
        // The rename is durable once the directory is flushed; a failure here loses nothing now.
        _ = fsync(directory)
    }

    /// Copies every byte from `input` to `output`; returns what went wrong, or `nil`.
    private static func copyBytes(from input: Int32, to output: Int32) -> String? {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(input, buffer, size)
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                return "reading: \(lastError())"
            }
            var written = 0
            while written < count {
                let result = write(output, buffer + written, count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return "writing: \(lastError())"
                }
                written += result
            }
        }
    }

    /// A read that failed, with the system's reason.
    struct ReadError: Error {
        /// `strerror` of the failure.
        var reason: String
    }

    /// The SHA-256 of the whole file open at `descriptor`, read from its start whatever the
    /// descriptor's offset.
    static func digest(of descriptor: Int32) throws(ReadError) -> String {
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var hash = SHA256()
        var offset: off_t = 0
        while true {
            let count = pread(descriptor, buffer, size, offset)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(reason: lastError())
            }
            hash.update(UnsafeRawBufferPointer(start: buffer, count: count))
            offset += off_t(count)
        }
        return SHA256.hex(hash.finalize())
    }

    /// A ``BundleError/Code/libraryCacheFailed`` error for the bundle.
    private func failure(_ message: String, bundle: String) -> BundleError {
        BundleError(.libraryCacheFailed, bundle: bundle, message)
    }

    /// The system's description of `errno`.
    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
