import Foundation
import ModelHostTestKit
import ModelRegistry
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The inotify wrapper on a real directory: events by path, watches that follow renames, and a
/// shutdown after which nothing is delivered.
struct DirectoryWatcherTests {
    /// Runs `body` with a watcher whose events are recorded, and shuts it down afterwards.
    private func withWatcher(_ body: (DirectoryWatcher, LockedBox<[DirectoryWatcher.Event]>) async throws -> Void) async throws {
        let events = LockedBox<[DirectoryWatcher.Event]>([])
        let watcher = try DirectoryWatcher { event in events.withLock { $0.append(event) } }
        do {
            try await body(watcher, events)
        } catch {
            await watcher.shutDown()
            throw error
        }
        await watcher.shutDown()
    }

    @Test func reportsEntriesCreatedRenamedAndDeletedByPath() async throws {
        let directory = try ModelsDirectory()
        try await withWatcher { watcher, events in
            try watcher.watch(directory.path)
            try await onThread {
                // Written in place (FileManager's createFile writes to a temporary name first).
                let file = open(directory.path + "/.hidden", O_CREAT | O_WRONLY, 0o644)
                _ = write(file, "x", 1)
                close(file)
                _ = rename(directory.path + "/.hidden", directory.path + "/shown")
                try FileManager.default.removeItem(atPath: directory.path + "/shown")
            }
            try await waitUntil(.seconds(10)) { events.value.contains { $0.name == "shown" && $0.mask.contains(.deleted) } }
            let seen = events.value.filter { $0.directory == directory.path }
            #expect(seen.contains { $0.name == ".hidden" && $0.mask.contains(.created) })
            #expect(seen.contains { $0.name == ".hidden" && $0.mask.contains(.closedAfterWriting) })
            #expect(seen.contains { $0.name == ".hidden" && $0.mask.contains(.movedOut) })
            #expect(seen.contains { $0.name == "shown" && $0.mask.contains(.movedIn) })
            #expect(seen.first { $0.name == "shown" && $0.mask.contains(.movedIn) }?.path == directory.path + "/shown")
        }
    }

    @Test func aFolderMovedAwayTakesItsWatchesWithIt() async throws {
        let directory = try ModelsDirectory()
        let inner = directory.path + "/echo/1.0.0"
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        try await withWatcher { watcher, events in
            for path in [directory.path, directory.path + "/echo", inner] { try watcher.watch(path) }
            #expect(watcher.watchedDirectories.count == 3)
            try await onThread { _ = rename(directory.path + "/echo", directory.path + "/.echo-old") }
            try await waitUntil(.seconds(10)) { watcher.watchedDirectories == [directory.path] }
            // Writes in the moved folder are no longer reported under its old path.
            let before = events.value.count
            _ = try await onThread { FileManager.default.createFile(atPath: directory.path + "/.echo-old/1.0.0/file", contents: nil) }
            try await Task.sleep(for: .milliseconds(300))
            #expect(!events.value.dropFirst(before).contains { $0.directory.hasPrefix(directory.path + "/echo") })
        }
    }

    @Test func aMissingFolderIsReportedAsMissing() async throws {
        try await withWatcher { watcher, _ in
            let error = #expect(throws: DirectoryWatcher.WatchError.self) { try watcher.watch("/nonexistent/modelhost-\(UUID())") }
            #expect(error?.isMissing == true)
        }
    }

    @Test func nothingIsDeliveredAfterShutDownAndWatchingFails() async throws {
        let directory = try ModelsDirectory()
        let events = LockedBox<[DirectoryWatcher.Event]>([])
        let watcher = try DirectoryWatcher { event in events.withLock { $0.append(event) } }
        try watcher.watch(directory.path)
        await watcher.shutDown()
        await watcher.shutDown()
        _ = try await onThread { FileManager.default.createFile(atPath: directory.path + "/late", contents: nil) }
        try await Task.sleep(for: .milliseconds(200))
        #expect(events.value.isEmpty)
        #expect(watcher.watchedDirectories.isEmpty)
        let error = #expect(throws: DirectoryWatcher.WatchError.self) { try watcher.watch(directory.path) }
        #expect(error?.errno == EBADF)
    }
}
