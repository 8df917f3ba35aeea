import NIOCore
import NIOHTTP1
import NIOPosix

/// The metrics listener: `GET /metrics` answers the Prometheus text exposition, on an address
/// and port of its own, apart from the inference port, and needs no key.
///
/// It runs on one event loop thread of its own, so rendering a scrape never delays a request.
/// Start it with ``bind(configuration:collector:)`` and end it with ``shutdown()``.
public final class MetricsServer: Sendable {
    /// Where the listener binds.
    public struct Configuration: Sendable {
        /// The address to listen on. Default `127.0.0.1`: loopback only, since the metrics
        /// need no key.
        public var host: String = "127.0.0.1"
        /// The port; 0 picks a free one. Default 9464.
        public var port: Int = 9464

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    /// The content type of the text exposition format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let serverChannel: any Channel
    private let group: MultiThreadedEventLoopGroup

    /// The port the listener is bound to.
    public let port: Int

    private init(serverChannel: any Channel, group: MultiThreadedEventLoopGroup, configuredPort: Int) {
        self.serverChannel = serverChannel
        self.group = group
        self.port = serverChannel.localAddress?.port ?? configuredPort
    }

    /// Binds the listener and serves `collector`'s exposition until ``shutdown()``.
    public static func bind(configuration: Configuration, collector: MetricsCollector) async throws -> MetricsServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 16)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(MetricsRequestHandler(collector: collector))
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
            return MetricsServer(serverChannel: channel, group: group, configuredPort: configuration.port)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Closes the listener and its connections, and stops its thread.
    public func shutdown() async {
        try? await serverChannel.close()
        try? await group.shutdownGracefully()
    }
}

/// Answers one metrics connection's requests: `GET /metrics` (or `HEAD`), 404 for other paths,
/// 405 for other methods.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let collector: MetricsCollector
    private var head: HTTPRequestHead?

    init(collector: MetricsCollector) {
        self.collector = collector
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: ByteBuffer
        if path != "/metrics" {
            status = .notFound
            body = context.channel.allocator.buffer(string: "metrics are served at /metrics\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else if head.method != .GET && head.method != .HEAD {
            status = .methodNotAllowed
            body = context.channel.allocator.buffer(string: "use GET\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Allow", value: "GET, HEAD")
        } else {
            status = .ok
            body = context.channel.allocator.buffer(string: collector.render())
            headers.add(name: "Content-Type", value: MetricsServer.contentType)
        }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        if head.method == .HEAD { body.clear() }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let keepAlive = head.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
