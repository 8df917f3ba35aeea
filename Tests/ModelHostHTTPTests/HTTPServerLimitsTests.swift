import Foundation
import ModelHostTestKit
import ModelRegistry
import NIOCore
import NIOPosix
import Testing

@testable import ModelHostHTTP

/// The edge's resource limits, live: header size, connection count, slow clients.
@Suite(.serialized) struct HTTPServerLimitsTests {
    private func withServer(_ configure: (inout HTTPServer.Configuration) -> Void, _ body: (Int) async throws -> Void) async throws {
        var configuration = HTTPServer.Configuration()
        configuration.port = 0
        configure(&configuration)
        let server = try await HTTPServer.bind(configuration: configuration, service: ModelHostService(registry: ModelRegistry()))
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        try await body(server.port)
    }

    /// Opens a raw connection, sends `bytes`, and returns everything read until the server closes
    /// it or `limit` passes.
    private func exchange(port: Int, _ bytes: String, readFor limit: Duration) async throws -> (text: String, closedByServer: Bool) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            if !bytes.isEmpty {
                do {
                    try await outbound.write(ByteBuffer(string: bytes))
                } catch ChannelError.ioOnClosedChannel {
                    return ("", true)
                }
            }
            return try await withThrowingTaskGroup(of: (String, Bool)?.self) { group in
                group.addTask {
                    var text = ""
                    do {
                        for try await chunk in inbound { text += String(buffer: chunk) }
                    } catch {
                        // A reset is the server closing too.
                    }
                    return (text, true)
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                return first ?? ("", false)
            }
        }
    }

    @Test func oversizedHeadersAreRefused() async throws {
        try await withServer({ $0.maxHeaderBytes = 1024 }) { port in
            let big = String(repeating: "a", count: 4096)
            let (text, closed) = try await exchange(port: port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n", readFor: .seconds(5))
            #expect(text.hasPrefix("HTTP/1.1 400"))
            #expect(closed)
            let (fine, _) = try await exchange(port: port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readFor: .seconds(5))
            #expect(fine.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func aClientThatTricklesIsCutOff() async throws {
        try await withServer({ $0.requestReadTimeout = .seconds(1) }) { port in
            let start = ContinuousClock.now
            // Half a request head, then silence: the server must close the connection after the deadline.
            let (text, closed) = try await exchange(port: port, "POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nContent-Len", readFor: .seconds(20))
            let elapsed = ContinuousClock.now - start
            #expect(closed)
            #expect(text.isEmpty)
            #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(15))
        }
    }

    @Test func connectionsBeyondTheLimitWaitToBeAccepted() async throws {
        try await withServer({ $0.maxConnections = 1; $0.requestReadTimeout = .seconds(10) }) { port in
            // Hold the one slot with an idle connection.
            let holder = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            let waiting = Task { try await exchange(port: port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", readFor: .seconds(10)) }
            try await holder.executeThenClose { _, _ in
                // The server does not accept the second connection while the first is open: the
                // client waits in the backlog, unanswered and not dropped.
                try await Task.sleep(for: .milliseconds(500))
            }
            // Once the holder has gone, the waiting client is accepted and answered.
            let (text, _) = try await waiting.value
            #expect(text.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func aWaitingConnectionIsNotAnsweredWhileTheLimitIsReached() async throws {
        try await withServer({ $0.maxConnections = 1; $0.requestReadTimeout = .seconds(10) }) { port in
            let holder = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            try await holder.executeThenClose { _, _ in
                try await Task.sleep(for: .milliseconds(100))
                let (text, closed) = try await exchange(port: port, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", readFor: .milliseconds(700))
                #expect(text.isEmpty)
                #expect(!closed)
            }
        }
    }
}
