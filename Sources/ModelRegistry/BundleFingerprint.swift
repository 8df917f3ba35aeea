import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A bundle's place in the models directory: `<name>/<version>/`.
struct BundleKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The model's name (the name folder).
    var name: String
    /// The version (the version folder).
    var version: String

    static func < (lhs: BundleKey, rhs: BundleKey) -> Bool {
        (lhs.name, lhs.version) < (rhs.name, rhs.version)
    }

    var description: String { "\(name)/\(version)" }
}

/// What a bundle directory holds, as far as `stat` tells: every entry's path, type, permissions,
/// size, inode and change times. Two equal fingerprints mean nothing was written, renamed,
/// replaced or `chmod`ed in between; the contents are judged by the verifier, not here.
///
/// Names starting with `.` are left out, as everywhere in the models directory: a file being
/// staged under a hidden name matters once it is renamed into place. Taking a fingerprint costs a
/// `stat` per entry; nothing is read.
struct BundleFingerprint: Sendable, Hashable {
    /// One file or folder, by its path inside the bundle ("" for the bundle folder itself).
    struct Entry: Sendable, Hashable {
        /// The path inside the bundle.
        var path: String
        /// Type and permission bits (`st_mode`).
        var mode: UInt32
        /// Size in bytes.
        var size: Int64
        /// The inode: a file replaced by a rename has another.
        var inode: UInt64
        /// Last write, in nanoseconds since the epoch (`st_mtim`).
        var modified: Int64
        /// Last change of contents or attributes, in nanoseconds since the epoch (`st_ctim`).
        var changed: Int64
    }

    /// The entries, the bundle folder first, then by path.
    var entries: [Entry]

    /// The most entries looked at: a folder holding more is a mistake, and its fingerprint
    /// still changes when any of the first ones does.
    static let entryLimit = 4096

    /// Takes the fingerprint of the folder at `directory`.
    ///
    /// - Returns: `nil` when there is no directory there (a symlink to one counts as one).
    static func take(of directory: String) -> BundleFingerprint? {
        guard let root = entry(directory, path: "", following: true), root.mode & S_IFMT == S_IFDIR else { return nil }
        var entries = [root]
        var folders = [""]
        while let folder = folders.popLast(), entries.count < entryLimit {
            let absolute = folder.isEmpty ? directory : directory + "/" + folder
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: absolute) else { continue }
            for name in names.sorted() where !name.hasPrefix(".") && entries.count < entryLimit {
                let path = folder.isEmpty ? name : folder + "/" + name
                guard let entry = entry(directory + "/" + path, path: path, following: false) else { continue }
                entries.append(entry)
                if entry.mode & S_IFMT == S_IFDIR { folders.append(path) }
            }
        }
        entries[1...].sort { $0.path < $1.path }
        return BundleFingerprint(entries: entries)
    }

    private static func entry(_ absolute: String, path: String, following: Bool) -> Entry? {
        var info = stat()
        guard (following ? stat(absolute, &info) : lstat(absolute, &info)) == 0 else { return nil }
        return Entry(
            path: path, mode: info.st_mode, size: Int64(info.st_size), inode: UInt64(info.st_ino),
            modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
            changed: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        )
    }
}
