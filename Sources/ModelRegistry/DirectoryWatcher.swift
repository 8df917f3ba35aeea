import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thin wrapper around one inotify instance: directories watched by path, their events handed
/// to a callback on a queue of the watcher's own, never on Swift's cooperative threads.
///
/// The inotify descriptor is read by a `DispatchSource` on that queue. It is closed by
/// ``shutDown()``, which waits until the queue has let it go; no event is delivered after
/// ``shutDown()`` returns: shut every watcher down, or its descriptor stays open. When a watched
/// directory is deleted, or moved away (the kernel keeps
/// watching the moved inode under its old name), its watch and every watch below it are dropped,
/// so an event is always reported under the path that now names it.
public final class DirectoryWatcher: Sendable {
    /// What happened, as inotify reports it.
    public struct Mask: OptionSet, Sendable, Hashable {
        /// The inotify bits.
        public let rawValue: UInt32

        /// Creates a mask from inotify bits.
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// An entry was created in the directory (`IN_CREATE`).
        public static let created = Mask(rawValue: UInt32(IN_CREATE))
        /// An entry was renamed into the directory (`IN_MOVED_TO`).
        public static let movedIn = Mask(rawValue: UInt32(IN_MOVED_TO))
        /// An entry was renamed out of the directory (`IN_MOVED_FROM`).
        public static let movedOut = Mask(rawValue: UInt32(IN_MOVED_FROM))
        /// An entry was deleted (`IN_DELETE`).
        public static let deleted = Mask(rawValue: UInt32(IN_DELETE))
        /// A file opened for writing was closed (`IN_CLOSE_WRITE`).
        public static let closedAfterWriting = Mask(rawValue: UInt32(IN_CLOSE_WRITE))
        /// A file was written (`IN_MODIFY`).
        public static let modified = Mask(rawValue: UInt32(IN_MODIFY))
        /// Permissions, owner, timestamps or links changed (`IN_ATTRIB`).
        public static let attributesChanged = Mask(rawValue: UInt32(IN_ATTRIB))
        /// The watched directory itself was deleted (`IN_DELETE_SELF`).
        public static let deletedSelf = Mask(rawValue: UInt32(IN_DELETE_SELF))
        /// The watched directory itself was moved (`IN_MOVE_SELF`).
        public static let movedSelf = Mask(rawValue: UInt32(IN_MOVE_SELF))
        /// The kernel's queue overflowed and events were lost (`IN_Q_OVERFLOW`): rescan everything.
        public static let overflow = Mask(rawValue: UInt32(IN_Q_OVERFLOW))
        /// The watch is gone: its directory was deleted or the watch removed (`IN_IGNORED`).
        public static let watchRemoved = Mask(rawValue: UInt32(IN_IGNORED))
        /// The entry is a directory (`IN_ISDIR`).
        public static let isDirectory = Mask(rawValue: UInt32(IN_ISDIR))

        /// Every event a directory is watched for.
        public static let watched: Mask = [
            .created, .movedIn, .movedOut, .deleted, .closedAfterWriting, .modified, .attributesChanged, .deletedSelf, .movedSelf,
        ]
    }

    /// One event.
    public struct Event: Sendable, Hashable {
        /// The watched directory, by the path it was watched under; empty for an overflow.
        public var directory: String
        /// The entry in ``directory`` the event is about, or `nil` when it is about the
        /// directory itself (or an overflow).
        public var name: String?
        /// What happened.
        public var mask: Mask

        /// The path of the entry, or of the directory when the event is about the directory.
        public var path: String { name.map { directory + "/" + $0 } ?? directory }

        /// Creates an event.
        public init(directory: String, name: String?, mask: Mask) {
            self.directory = directory
            self.name = name
            self.mask = mask
        }
    }

    /// A directory that could not be watched.
    public struct WatchError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The directory.
        public var path: String
        /// The `errno` of `inotify_add_watch` (`ENOENT`, `ENOTDIR`: it is not there; `ENOSPC`:
        /// the user's watch limit, `fs.inotify.max_user_watches`).
        public var errno: Int32

        /// Whether the directory is simply not there (any more): no directory, no watch needed.
        public var isMissing: Bool { errno == ENOENT || errno == ENOTDIR }

        public var description: String { "cannot watch \(path): \(String(cString: strerror(errno)))" }
    }

    private struct Watches {
        /// Closed by ``shutDown()``; a closed descriptor must never be used (it may be reused).
        var descriptor: Int32?
        var paths: [Int32: String] = [:]
        var descriptors: [String: Int32] = [:]
        var finished: [CheckedContinuation<Void, Never>] = []
        var isFinished = false

        mutating func forget(_ watch: Int32) {
            guard let path = paths.removeValue(forKey: watch) else { return }
            if descriptors[path] == watch { descriptors[path] = nil }
        }
    }

    /// The watches, shared with the source's handlers (which never hold the watcher itself).
    private final class Table: Sendable {
        let watches: Mutex<Watches>

        init(descriptor: Int32) {
            watches = Mutex(Watches(descriptor: descriptor))
        }
    }

    private let table: Table
    /// Behind a lock only so the watcher is `Sendable`: the source is created in `init` and only
    /// cancelled afterwards.
    private let source: Mutex<(any DispatchSourceRead)?>

    /// Creates an inotify instance and starts reading it.
    ///
    /// - Parameters:
    ///   - label: The name of the watcher's queue, for debuggers and thread lists.
    ///   - handler: Receives every event, in order, on the watcher's queue. It should be quick:
    ///     events queue in the kernel while it runs (and overflow past
    ///     `fs.inotify.max_queued_events`).
    /// - Throws: ``WatchError`` (with an empty path) when no inotify instance can be had
    ///   (`EMFILE`: the user's `fs.inotify.max_user_instances`).
    public init(label: String = "modelhost.directory-watcher", handler: @escaping @Sendable (Event) -> Void) throws(WatchError) {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw WatchError(path: "", errno: errno) }
        let table = Table(descriptor: descriptor)
        let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: DispatchQueue(label: label))
        source.setEventHandler { Self.readAvailable(from: descriptor, table: table, handler: handler) }
        source.setCancelHandler { Self.finish(table) }
        source.resume()
        self.table = table
        self.source = Mutex(source)
    }

    /// Watches `directory` for ``Mask/watched`` events. Watching a directory already watched
    /// reports its events under the new path; watching a path whose directory was replaced
    /// drops the watch on the one it replaced.
    ///
    /// - Throws: ``WatchError``; ``WatchError/isMissing`` when there is no such directory, `EBADF`
    ///   after ``shutDown()``.
    public func watch(_ directory: String) throws(WatchError) {
        let result: Int32 = table.watches.withLock { watches in
            guard let descriptor = watches.descriptor else { return EBADF }
            let watch = inotify_add_watch(descriptor, directory, Mask.watched.rawValue | UInt32(IN_ONLYDIR))
            guard watch >= 0 else { return errno }
            if let previous = watches.paths[watch], previous != directory, watches.descriptors[previous] == watch {
                watches.descriptors[previous] = nil
            }
            // The path now names another inode: the old one's events would come under its name.
            if let stale = watches.descriptors[directory], stale != watch {
                inotify_rm_watch(descriptor, stale)
                watches.forget(stale)
            }
            watches.paths[watch] = directory
            watches.descriptors[directory] = watch
            return 0
        }
        if result != 0 { throw WatchError(path: directory, errno: result) }
    }

    /// The directories watched now, for tests and diagnostics.
    public var watchedDirectories: Set<String> {
        table.watches.withLock { Set($0.descriptors.keys) }
    }

    /// Stops reading and closes the inotify descriptor; returns once it is closed. No event is
    /// delivered afterwards. Calling it again returns at once.
    public func shutDown() async {
        // Cancelling again is harmless.
        source.withLock { $0?.cancel() }
        await withCheckedContinuation { continuation in
            let isFinished = table.watches.withLock { watches in
                if !watches.isFinished { watches.finished.append(continuation) }
                return watches.isFinished
            }
            if isFinished { continuation.resume() }
        }
    }

    /// The cancel handler, on the queue: the source no longer reads, so the descriptor closes.
    private static func finish(_ table: Table) {
        let waiters = table.watches.withLock { watches -> [CheckedContinuation<Void, Never>] in
            if let descriptor = watches.descriptor { close(descriptor) }
            watches.descriptor = nil
            watches.paths = [:]
            watches.descriptors = [:]
            watches.isFinished = true
            defer { watches.finished = [] }
            return watches.finished
        }
        waiters.forEach { $0.resume() }
    }

    /// Reads every event queued now (the descriptor is non-blocking) and hands each on.
    private static func readAvailable(from descriptor: Int32, table: Table, handler: @Sendable (Event) -> Void) {
        // Room for many events at once; one event is at most 16 bytes plus NAME_MAX + 1.
        let capacity = 64 * 1024
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer.baseAddress, capacity)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let watch = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = Mask(rawValue: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
                let nameLength = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameStart = offset + MemoryLayout<inotify_event>.size
                var name: String?
                if nameLength > 0 {
                    let bytes = UnsafeRawBufferPointer(rebasing: buffer[nameStart..<min(count, nameStart + nameLength)])
                    name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                offset = nameStart + nameLength
                if let event = interpret(watch: watch, mask: mask, name: name, in: table) { handler(event) }
            }
        }
    }

    /// Keeps the watches in step with the event and names the directory it is about; `nil`
    /// for the events of a watch already dropped.
    private static func interpret(watch: Int32, mask: Mask, name: String?, in table: Table) -> Event? {
        if mask.contains(.overflow) { return Event(directory: "", name: nil, mask: mask) }
        return table.watches.withLock { watches -> Event? in
            guard let directory = watches.paths[watch] else { return nil }
            if mask.contains(.watchRemoved) {
                watches.forget(watch)
                return nil
            }
            // Moved away, the inode keeps its watch under the old name: drop it and those below.
            if let name, mask.contains(.movedOut) && mask.contains(.isDirectory), let descriptor = watches.descriptor {
                let moved = directory + "/" + name
                for (path, watch) in watches.descriptors where path == moved || path.hasPrefix(moved + "/") {
                    inotify_rm_watch(descriptor, watch)
                    watches.forget(watch)
                }
            }
            if mask.contains(.movedSelf), let descriptor = watches.descriptor {
                for (path, watch) in watches.descriptors where path == directory || path.hasPrefix(directory + "/") {
                    inotify_rm_watch(descriptor, watch)
                    watches.forget(watch)
                }
            }
            return Event(directory: directory, name: name, mask: mask)
        }
    }
}
