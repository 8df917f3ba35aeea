import Logging
import ModelHostCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP/1.1 edge: accepts connections within the connection limit and serves each on its
/// event loop with a ``ModelHostService``.
///
/// Parsing is SwiftNIO's, with its pipelining support; a malformed request gets a 400 from its
/// pipeline and the connection is closed, without touching any other connection. The request path
/// runs on the event loop: routing, admission, decoding and writing; only the plugin call goes
/// to the model version's own threads.
public final class HTTPServer: Sendable {
    /// Where the server listens and what it accepts.
    public struct Configuration: Sendable {
        /// The address to bind. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The port to bind; 0 picks a free one (see ``HTTPServer/port``). Default 8080.
        public var port: Int = 8080
        /// The largest request body accepted, in bytes; larger requests get 413. Default 8 MiB.
        public var maxBodyBytes: Int = 8 << 20
        /// The memory all buffered request bodies may take together, in bytes; a request that
        /// does not fit gets 503 `overloaded`. Default 256 MiB.
        public var maxBufferedBodyBytes: Int = 256 << 20
        /// The largest total size of a request's header fields, in bytes; larger requests get 400
        /// and the connection is closed. Default 16 KiB.
        public var maxHeaderBytes: Int = 16 << 10
        /// Connections served at once. At the limit the server stops accepting, so new clients
        /// wait in the listen backlog until a connection closes. Default 1024.
        public var maxConnections: Int = 1024
        /// How long the server waits for a complete request (all of its head and body) on an open
        /// connection, idle keep-alive time included, before closing it. Default 30 seconds.
        public var requestReadTimeout: Duration = .seconds(30)
        /// The largest body a refused request may have for its connection to be kept: it is read
        /// and dropped. A larger one closes the connection after the answer. Default 64 KiB.
        public var maxDiscardedBodyBytes: Int = 64 << 10

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    /// What shutting down found.
    public struct ShutdownReport: Sendable, Hashable {
        /// Whether every connection finished its request and closed within the grace period.
        public var isGraceful: Bool
    }

    private let serverChannel: any Channel
    private let tracker: ConnectionTracker

    /// The port the server is bound to.
    public let port: Int

    private init(serverChannel: any Channel, tracker: ConnectionTracker, configuredPort: Int) {
        self.serverChannel = serverChannel
        self.tracker = tracker
        self.port = serverChannel.localAddress?.port ?? configuredPort
    }

    /// Binds the listening socket and starts serving.
    ///
    /// - Throws: The socket error when the address cannot be bound.
    public static func bind(
        configuration: Configuration,
        service: ModelHostService,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPServer {
        let tracker = ConnectionTracker()
        let budget = RequestBodyBudget(limit: configuration.maxBufferedBodyBytes)
        let limits = HTTPRequestHandler.Limits(
            maxBodyBytes: configuration.maxBodyBytes,
            maxDiscardedBodyBytes: configuration.maxDiscardedBodyBytes,
            lingerTime: .seconds(2)
        )
        let logger = service.logger
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One accept per read, so the connection limit is never overshot.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionLimitHandler(maxConnections: configuration.maxConnections, tracker: tracker)
                    )
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var decoderLimits = NIOHTTPDecoderLimitConfiguration()
                    decoderLimits.maxHeaderListSize = configuration.maxHeaderBytes
                    decoderLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(
                        withPipeliningAssistance: true,
                        withErrorHandling: true,
                        withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: decoderLimits
                    )
                    try pipeline.addHandler(ReadTimeoutHandler(timeout: TimeAmount(configuration.requestReadTimeout)))
                    try pipeline.addHandler(HTTPRequestHandler(service: service, budget: budget, limits: limits, logger: logger))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return HTTPServer(serverChannel: channel, tracker: tracker, configuredPort: configuration.port)
    }

    /// Returns when the server has stopped listening (after ``shutdown(gracePeriod:)``).
    /// Cancelling the task closes the listener and every connection at once.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await serverChannel.closeFuture.get()
        } onCancel: {
            serverChannel.close(promise: nil)
            tracker.closeAll()
        }
    }

    /// Stops accepting, lets every connection finish the request it is serving (idle keep-alive
    /// connections close at once, busy ones after their answer), and closes whatever is still
    /// open when `gracePeriod` ends.
    public func shutdown(gracePeriod: Duration) async -> ShutdownReport {
        try? await serverChannel.close()
        tracker.quiesceAll()
        let isGraceful = await tracker.waitUntilAllClosed(deadline: .now.advanced(by: gracePeriod))
        return ShutdownReport(isGraceful: isGraceful)
    }
}
