import NIOCore
import Synchronization

/// The server's open connections: counted for the connection limit, and told to finish when the
/// server shuts down.
final class ConnectionTracker: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var isQuiescing = false
        var allClosed: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Records a new connection; one accepted while quiescing is told to finish at once.
    func opened(_ channel: any Channel) {
        let isQuiescing = state.withLock { state in
            state.open[ObjectIdentifier(channel)] = channel
            return state.isQuiescing
        }
        if isQuiescing { Self.quiesce(channel) }
    }

    /// Records that a connection closed.
    func closed(_ channel: any Channel) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.open[ObjectIdentifier(channel)] = nil
            guard state.open.isEmpty else { return [] }
            defer { state.allClosed = [] }
            return state.allClosed
        }
        waiters.forEach { $0.resume() }
    }

    /// Tells every connection to finish the request it is serving and then close; idle ones
    /// close at once.
    func quiesceAll() {
        let channels = state.withLock { state in
            state.isQuiescing = true
            return Array(state.open.values)
        }
        channels.forEach(Self.quiesce)
    }

    /// Waits until every connection has closed, or until `deadline`; then closes any still open.
    ///
    /// - Returns: Whether every connection closed by itself before `deadline`.
    func waitUntilAllClosed(deadline: ContinuousClock.Instant) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await ContinuousClock().sleep(until: deadline)
                return false
            }
            group.addTask {
                await self.allClosed()
                return true
            }
            let closedInTime = await group.next() ?? false
            if !closedInTime { closeAll() }
            group.cancelAll()
            await group.waitForAll()
            return closedInTime
        }
    }

    /// Returns once no connection is open.
    private func allClosed() async {
        await withCheckedContinuation { continuation in
            let isEmpty = state.withLock { state -> Bool in
                if state.open.isEmpty { return true }
                state.allClosed.append(continuation)
                return false
            }
            if isEmpty { continuation.resume() }
        }
    }

    /// Closes every connection still open.
    ///
    /// - Returns: How many were open.
    @discardableResult
    func closeAll() -> Int {
        let channels = state.withLock { Array($0.open.values) }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }

    private static func quiesce(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}
