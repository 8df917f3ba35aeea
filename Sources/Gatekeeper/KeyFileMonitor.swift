import Foundation
import ModelHostCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Watches a keys file and rereads it when it changes, so keys rotate without a restart.
///
/// The server calls ``reloadIfChanged()`` on a timer and builds a new ``KeyRing`` from what it
/// returns. An unchanged file costs one `stat`: the monitor remembers the file's identity — device,
/// inode, size, and modification and status-change times to the nanosecond — and rereads only when
/// any of them differs. A file replaced by rename (as ``KeyFile/save()`` and most editors do) has a
/// new inode and counts as changed; so does a file rewritten in place.
///
/// File timestamps advance in steps of a clock tick (a few milliseconds), so two writes of the same
/// size in one tick would share an identity. While the file's timestamps are less than
/// ``settlingInterval`` old, the monitor therefore also compares a SHA-256 of the content on every
/// call; once a check happens after that interval the identity alone is trusted again.
///
/// Errors are reported once per change: after a failure (a missing file, invalid JSON) the monitor
/// remembers what it saw and returns `nil` until the file changes again. The caller keeps its
/// previous ring meanwhile, so a half-edited file never locks everyone out.
public final class KeyFileMonitor: Sendable {
    /// How long after its last change a file's content is still compared, not just its identity.
    public static let settlingInterval: Duration = .seconds(2)

    /// The keys file's path. A symbolic link is followed: retargeting it counts as a change.
    public let path: String

    private struct Snapshot: Sendable {
        var identity: FileIdentity
        var digest: [UInt8]
        var isSettled: Bool
    }

    private enum State: Sendable {
        case initial
        case missing
        case seen(Snapshot)
    }

    private let state = Mutex(State.initial)

    /// Creates a monitor that has not read the file yet: the first ``reloadIfChanged()`` reads it.
    public init(path: String) {
        self.path = path
    }

    /// Rereads the file if it changed since the last call.
    ///
    /// - Returns: The file's records when it is new or changed, `nil` when it is unchanged (or when
    ///   its current state was already reported as an error).
    /// - Throws: ``KeyFileError``: ``KeyFileError/Code/notFound`` when the file has gone,
    ///   ``KeyFileError/Code/invalid`` when it no longer parses, ``KeyFileError/Code/io``.
    public func reloadIfChanged() throws(KeyFileError) -> [KeyRecord]? {
        let previous = state.withLock { $0 }
        guard let current = try KeyFileIO.identity(path) else {
            if case .missing = previous { return nil }
            state.withLock { $0 = .missing }
            throw KeyFileError(.notFound, path: path, message: "the keys file has gone; keeping the keys already loaded")
        }
        guard case .seen(let snapshot) = previous, snapshot.identity == current else {
            return try reload()
        }
        if snapshot.isSettled { return nil }

        // Same identity, but recent enough that a second write could hide in the same tick.
        let checkedAt = FileIdentity.Timestamp.now()
        let (data, identity) = try KeyFileIO.readFile(path)
        let digest = Self.digest(data)
        guard identity == snapshot.identity, digest == snapshot.digest else {
            return try adopt(data, identity: identity, digest: digest, checkedAt: checkedAt)
        }
        let isSettled = identity.isSettled(at: checkedAt)
        state.withLock { $0 = .seen(Snapshot(identity: identity, digest: digest, isSettled: isSettled)) }
        return nil
    }

    /// Rereads the file whether or not it changed, and remembers it.
    ///
    /// - Returns: The file's records.
    /// - Throws: ``KeyFileError`` as ``reloadIfChanged()`` does.
    @discardableResult
    public func reload() throws(KeyFileError) -> [KeyRecord] {
        let checkedAt = FileIdentity.Timestamp.now()
        let data: Data
        let identity: FileIdentity
        do throws(KeyFileError) {
            (data, identity) = try KeyFileIO.readFile(path)
        } catch {
            if error.code == .notFound { state.withLock { $0 = .missing } }
            throw error
        }
        return try adopt(data, identity: identity, digest: Self.digest(data), checkedAt: checkedAt)
    }

    /// Remembers the file as read, then decodes it; a decoding error is thrown after remembering,
    /// so it is reported once.
    private func adopt(_ data: Data, identity: FileIdentity, digest: [UInt8], checkedAt: FileIdentity.Timestamp) throws(KeyFileError) -> [KeyRecord] {
        let snapshot = Snapshot(identity: identity, digest: digest, isSettled: identity.isSettled(at: checkedAt))
        state.withLock { $0 = .seen(snapshot) }
        return try KeyFile.decode(data, path: path)
    }

    private static func digest(_ data: Data) -> [UInt8] {
        var hash = SHA256()
        data.withUnsafeBytes { hash.update($0) }
        return hash.finalize()
    }
}

/// What identifies one version of a file without reading it: device, inode, size, and the
/// modification and status-change times in nanoseconds.
struct FileIdentity: Sendable, Hashable {
    /// A point in wall-clock time, as the file system records it.
    struct Timestamp: Sendable, Hashable, Comparable {
        var seconds: Int64
        var nanoseconds: Int64

        /// The wall-clock time now (`CLOCK_REALTIME`, the clock file times come from).
        static func now() -> Timestamp {
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return Timestamp(time)
        }

        init(_ time: timespec) {
            seconds = Int64(time.tv_sec)
            nanoseconds = Int64(time.tv_nsec)
        }

        static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
            (lhs.seconds, lhs.nanoseconds) < (rhs.seconds, rhs.nanoseconds)
        }

        /// The duration from `self` to `other`.
        func duration(to other: Timestamp) -> Duration {
            .seconds(other.seconds - seconds) + .nanoseconds(other.nanoseconds - nanoseconds)
        }
    }

    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Timestamp
    var changed: Timestamp

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        #if canImport(Darwin)
        modified = Timestamp(status.st_mtimespec)
        changed = Timestamp(status.st_ctimespec)
        #else
        modified = Timestamp(status.st_mtim)
        changed = Timestamp(status.st_ctim)
        #endif
    }

    /// Whether a check at `time` can trust this identity alone from then on: the file's last change
    /// is at least ``KeyFileMonitor/settlingInterval`` earlier (and not in the future).
    func isSettled(at time: Timestamp) -> Bool {
        let latest = max(modified, changed)
        return latest.duration(to: time) >= KeyFileMonitor.settlingInterval
    }
}
