import ModelHostCore
import NIOCore
import NIOHTTP1
import NIOPosix

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

        /// Creates a configuration with every field at its default.
        public init() {}
    }

    private typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let serverChannel: NIOAsyncChannel<Connection, Never>
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
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
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
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    private func serve(_ connection: Connection) async {
        // One connection's failure (a reset, a parse error) ends that connection only.
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
                    let request = HTTPRequest(method: requestHead.method, path: path, headers: requestHead.headers, body: body)
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

