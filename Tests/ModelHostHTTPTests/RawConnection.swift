import ModelHostTestKit
import NIOCore
import NIOPosix

/// A TCP connection that sends raw bytes and collects whatever comes back, for requests a
/// normal client would not send: heads without their bodies, bodies in pieces.
final class RawConnection: Sendable {
    private struct Received: Sendable {
        var text = ""
        var isClosed = false
    }

    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let state = LockedBox(Received())
    private let reader: Task<Void, Never>

    init(port: Int) async throws {
        let wrapped = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        channel = wrapped.channel
        outbound = wrapped.outbound
        let inbound = wrapped.inbound
        let state = state
        reader = Task {
            do {
                for try await chunk in inbound {
                    state.withLock { $0.text += String(buffer: chunk) }
                }
            } catch {
                // A reset is the server closing too.
            }
            state.withLock { $0.isClosed = true }
        }
    }

    /// Everything received so far.
    var received: String { state.value.text }

    /// Whether the server has closed the connection.
    var isClosedByServer: Bool { state.value.isClosed }

    /// Sends `text`; `false` when the connection is closed.
    @discardableResult
    func send(_ text: String) async -> Bool {
        await send(ByteBuffer(string: text))
    }

    /// Sends `bytes`; `false` when the connection is closed.
    @discardableResult
    func send(_ bytes: ByteBuffer) async -> Bool {
        do {
            try await outbound.write(bytes)
            return true
        } catch {
            return false
        }
    }

    /// Waits until `received` contains `marker`, the server closes, or `limit` passes.
    ///
    /// - Returns: Whether `marker` arrived.
    @discardableResult
    func read(until marker: String, within limit: Duration = .seconds(10)) async -> Bool {
        await poll(within: limit) { $0.text.contains(marker) || $0.isClosed }
        return received.contains(marker)
    }

    /// Waits until the server closes the connection or `limit` passes.
    ///
    /// - Returns: Whether the server closed it.
    func waitForClose(within limit: Duration = .seconds(10)) async -> Bool {
        await poll(within: limit) { $0.isClosed }
        return isClosedByServer
    }

    private func poll(within limit: Duration, until condition: (Received) -> Bool) async {
        let deadline = ContinuousClock.now.advanced(by: limit)
        while !condition(state.value), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Closes the connection from the client's side.
    func close() async {
        try? await channel.close()
        await reader.value
    }
}
