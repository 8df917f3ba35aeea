import ModelHostCore
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP/1.1 edge: accepts connections, reads whole requests within the configured limits,
/// asks a ``ModelHostService`` for the answer and writes it back.
///
/// Parsing is SwiftNIO's; a malformed request gets a 400 from its pipeline and the connection is
/// closed, without touching any other connection.
public final class HTTPServer: Sendable {
    /// Where the server listens and what it accepts.
    public struct Configuration: Sendable {
        /// The address to bind. Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The port to bind; 0 picks a free one (see ``HTTPServer/port``). Default 8080.
        public var port: Int = 8080
        /// The largest request body accepted, in bytes; larger requests get 413. Default 8 MiB.
        public var maxBodyBytes: Int = 8 << 20
        /// The largest total size of a request's header fields, in bytes; larger requests get 400
        /// and the connection is closed. Default 16 KiB.
        public var maxHeaderBytes: Int = 16 << 10
        /// Connections served at once; a connection beyond it is closed as soon as it is accepted.
        /// Default 1024.
        public var maxConnections: Int = 1024
        /// How long the server waits for a complete request (all of its head and body) on an open
        /// connection, idle keep-alive time included, before closing it. Default 30 seconds.
        public var requestReadTimeout: Duration = .seconds(30)

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let serverChannel: NIOAsyncChannel<Connection, Never>
    private let openConnections = ConnectionCounter()
    private let service: ModelHostService
    private let configuration: Configuration

    /// The port the server is bound to.
    public let port: Int

    private init(serverChannel: NIOAsyncChannel<Connection, Never>, service: ModelHostService, configuration: Configuration) {
        self.serverChannel = serverChannel
        self.service = service
        self.configuration = configuration
        self.port = serverChannel.channel.localAddress?.port ?? configuration.port
    }

    /// Binds the listening socket; call ``run()`` to serve.
    ///
    /// - Throws: The socket error when the address cannot be bound.
    public static func bind(
        configuration: Configuration,
        service: ModelHostService,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> HTTPServer {
        let channel = try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderListSize = configuration.maxHeaderBytes
                    limits.maxHeaderFieldSize = configuration.maxHeaderBytes
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withErrorHandling: true,
                        withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: limits
                    )
                    try channel.pipeline.syncOperations.addHandler(ReadTimeoutHandler(timeout: TimeAmount(configuration.requestReadTimeout)))
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
        return HTTPServer(serverChannel: channel, service: service, configuration: configuration)
    }

    /// Serves connections until the task is cancelled or the listening socket closes.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await serverChannel.executeThenClose { connections in
                for try await connection in connections {
                    guard openConnections.reserve(limit: configuration.maxConnections) else {
                        // Over the limit: close at once rather than queue work the server cannot take.
                        group.addTask { try? await connection.executeThenClose { _, _ in } }
                        continue
                    }
                    group.addTask {
                        defer { self.openConnections.release() }
                        await self.serve(connection)
                    }
                }
            }
        }
    }

    private func serve(_ connection: Connection) async {
        // One connection's failure (a reset, a parse error) ends that connection only.
        let clientAddress = connection.channel.remoteAddress?.ipAddress ?? "unknown"
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = connection.channel.allocator.buffer(capacity: 0)
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    head = requestHead
                    body.clear()
                    if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxBodyBytes {
                        try await writeTooLarge(to: outbound)
                        return
                    }
                case .body(var chunk):
                    guard body.readableBytes + chunk.readableBytes <= configuration.maxBodyBytes else {
                        try await writeTooLarge(to: outbound)
                        return
                    }
                    body.writeBuffer(&chunk)
                case .end:
                    guard let requestHead = head else { continue }
                    head = nil
                    let path = requestHead.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? "/"
                    let request = HTTPRequest(method: requestHead.method, path: path, headers: requestHead.headers, body: body, clientAddress: clientAddress)
                    let response = await service.respond(to: request)
                    try await write(response, keepAlive: requestHead.isKeepAlive, version: requestHead.version, to: outbound)
                    if !requestHead.isKeepAlive { return }
                }
            }
        }
    }

    private func write(_ response: HTTPResponse, keepAlive: Bool, version: HTTPVersion, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        if !headers.contains(name: "Content-Type") {
            headers.add(name: "Content-Type", value: "application/json")
        }
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(response.body)), .end(nil)])
    }

    private func writeTooLarge(to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        let error = ModelHostError(.payloadTooLarge, "request body is larger than the limit of \(configuration.maxBodyBytes) bytes")
        try await write(HTTPResponse(error: error), keepAlive: false, version: .http1_1, to: outbound)
    }
}


/// Counts open connections against a limit.
private final class ConnectionCounter: Sendable {
    private let count = Mutex(0)

    /// Takes a slot, or returns `false` when all `limit` slots are taken.
    func reserve(limit: Int) -> Bool {
        count.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    /// Gives a slot back.
    func release() {
        count.withLock { $0 -= 1 }
    }
}
