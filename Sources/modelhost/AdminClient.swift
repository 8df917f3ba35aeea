import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client for the commands that call a running server (`breaker`, `health`, `models` and the rollout commands):
/// one request per connection, the whole response aggregated in memory.
///
/// Plain `http://` only: ModelHost does not terminate TLS (see docs/security.md), so neither does
/// its client. Requests and responses go through NIO's HTTP/1 codec; nothing here parses HTTP.
struct AdminClient: Sendable {
    /// Where the server is and how to authenticate.
    struct Configuration: Sendable {
        /// The server's base URL, such as `http://127.0.0.1:8080`.
        var server: ServerURL
        /// The API key sent as `Authorization: Bearer`, or `nil` to send none (a server run with
        /// `--insecure-no-auth`).
        var key: String?
        /// How long connecting may take. Defaults to 5 seconds.
        var connectTimeout: TimeAmount = .seconds(5)
        /// How long the whole exchange may take, connecting included. Defaults to 30 seconds.
        var requestTimeout: TimeAmount = .seconds(30)
        /// The largest response body accepted. Defaults to 4 MiB.
        var maxResponseBytes = 4 << 20
    }

    /// A server's answer.
    struct Response: Sendable {
        /// The status.
        var status: HTTPResponseStatus
        /// The body's bytes.
        var body: [UInt8]

        /// The `{"error": …, "code": …}` body of an error response, if it is one.
        var serverError: ServerError? {
            try? JSONDecoder().decode(ServerError.self, from: Data(body))
        }
    }

    /// The body of an error response.
    struct ServerError: Decodable, Sendable {
        /// The human message.
        var error: String
        /// The stable code, such as `model_not_found`.
        var code: String
    }

    let configuration: Configuration

    /// Sends one request and waits for the whole response.
    ///
    /// - Parameters:
    ///   - method: The method.
    ///   - path: The path below the server URL's own, starting with `/`.
    ///   - body: A JSON body, if any.
    /// - Returns: The response, whatever its status.
    /// - Throws: ``AdminClientError`` when the server cannot be reached, does not answer in time or
    ///   answers something that is not HTTP.
    func send(_ method: HTTPMethod, _ path: String, json body: [UInt8]? = nil) async throws(AdminClientError) -> Response {
        let server = configuration.server
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: server.hostHeader)
        headers.add(name: "User-Agent", value: "modelhost-cli")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "Connection", value: "close")
        if let key = configuration.key {
            headers.add(name: "Authorization", value: "Bearer \(key)")
        }
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        } else if method == .POST || method == .PUT {
            headers.add(name: "Content-Length", value: "0")
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: server.basePath + path, headers: headers)

        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: NIOHTTPClientResponseFull.self)
        let maxResponseBytes = configuration.maxResponseBytes
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(configuration.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandlers([
                        NIOHTTPClientResponseAggregator(maxContentLength: maxResponseBytes),
                        ExchangeHandler(head: head, body: body, promise: promise),
                    ])
                }
            }

        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: server.host, port: server.port).get()
        } catch {
            let failure = AdminClientError(.unreachable, "could not reach \(server): \(Self.reason(error))", cause: error)
            promise.fail(failure)
            throw failure
        }
        let deadline = channel.eventLoop.scheduleTask(in: configuration.requestTimeout) {
            promise.fail(AdminClientError(.timedOut, "\(server) did not answer within \(configuration.requestTimeout.nanoseconds / 1_000_000_000) s"))
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            let full = try await promise.futureResult.get()
            return Response(status: full.head.status, body: full.body.map { Array($0.readableBytesView) } ?? [])
        } catch let error as AdminClientError {
            throw error
        } catch {
            throw AdminClientError(.invalidResponse, "\(server) did not answer with a usable HTTP response: \(Self.reason(error))", cause: error)
        }
    }

    /// A connection failure in a few words: `connection refused`, not NIO's whole description.
    private static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return reason(first.error) }
            if error.dnsAAAAError != nil || error.dnsAError != nil { return "the host name \(error.host) does not resolve" }
            return "\(error)"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode))
        case ChannelError.connectTimeout(let timeout):
            return "no connection within \(timeout.nanoseconds / 1_000_000_000) s"
        case is NIOTooManyBytesError:
            return "the response is too large"
        default:
            return "\(error)"
        }
    }
}

/// Writes the request once connected and completes the promise with the aggregated response,
/// or with the reason there is none.
private final class ExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPClientResponseFull
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let body: [UInt8]?
    private let promise: EventLoopPromise<NIOHTTPClientResponseFull>

    init(head: HTTPRequestHead, body: [UInt8]?, promise: EventLoopPromise<NIOHTTPClientResponseFull>) {
        self.head = head
        self.body = body
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(unwrapInboundIn(data))
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Completing a promise twice is a no-op: this only matters when nothing came back.
        promise.fail(AdminClientError(.invalidResponse, "the server closed the connection without answering"))
        context.fireChannelInactive()
    }
}

/// A request to a server that got no HTTP answer.
struct AdminClientError: Error, CustomStringConvertible {
    /// Why there is no answer.
    struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String { case unreachable, timedOut = "timed_out", invalidResponse = "invalid_response" }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The server could not be connected to.
        static let unreachable = Code(.unreachable)
        /// The server did not answer in time.
        static let timedOut = Code(.timedOut)
        /// The server answered something that is not an HTTP response, or closed without answering.
        static let invalidResponse = Code(.invalidResponse)

        var description: String { value.rawValue }
    }

    /// Why there is no answer.
    var code: Code
    /// What happened, naming the server.
    var message: String
    /// The underlying error, if any.
    var cause: (any Error)?

    init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    var description: String { message }
}
