import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fastest HTTP/1.1 server that SwiftNIO reasonably makes: the ceiling that `Scripts/bench`
/// measures ModelHost against.
///
/// It reads each request whole (head, every body part, end) and answers every request, whatever
/// its method or path, with the same small JSON body and a `Content-Length`. Keep-alive is
/// honoured as the request asks. Nothing else happens per request: no routing, no parsing of the
/// body, no allocation beyond what NIO's HTTP codec does, no hop off the event loop.
///
///     BareHTTPServer [--host 127.0.0.1] [--port 8081]
///
/// `--port 0` picks a free port. Once bound it prints `listening on http://HOST:PORT` to standard
/// error, with the real port.
@main
enum BareHTTPServer {
    static func main() throws {
        let options: Options
        do {
            options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
        } catch {
            printError("BareHTTPServer: \(error.message)")
            printError(Options.usage)
            exit(2)
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        defer { try? group.syncShutdownGracefully() }

        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FixedResponseHandler())
                }
            }
            .bind(host: options.host, port: options.port)
            .wait()

        let port = channel.localAddress?.port ?? options.port
        printError("listening on http://\(options.host):\(port)")
        try channel.closeFuture.wait()
    }
}

/// Answers every request with ``FixedResponseHandler/body`` once the request has been read whole.
final class FixedResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The answer to every request: about the size of a small inference response.
    static let body: ByteBuffer = ByteBuffer(
        string: #"{"model_name":"bare","outputs":[{"name":"output0","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}"#
    )

    private static let keepAliveHeaders = makeHeaders(connection: nil)
    private static let keepAliveHTTP10Headers = makeHeaders(connection: "keep-alive")
    private static let closeHeaders = makeHeaders(connection: "close")

    private var isKeepAlive = true
    private var version = HTTPVersion.http1_1
    private var bodyBytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            isKeepAlive = head.isKeepAlive
            version = head.version
            bodyBytes = 0
        case .body(let chunk):
            // Read, not kept: the request body only has to be consumed.
            bodyBytes &+= chunk.readableBytes
        case .end:
            respond(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func respond(context: ChannelHandlerContext) {
        let headers: HTTPHeaders
        switch (isKeepAlive, version.minor) {
        case (true, 0): headers = Self.keepAliveHTTP10Headers
        case (true, _): headers = Self.keepAliveHeaders
        case (false, _): headers = Self.closeHeaders
        }
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(Self.body))), promise: nil)
        if isKeepAlive {
            // Flushed in `channelReadComplete`, so pipelined requests share one write.
            context.write(Self.wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let loopBoundContext = context.loopBound
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in
                loopBoundContext.value.close(promise: nil)
            }
        }
    }

    private static func makeHeaders(connection: String?) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if let connection { headers.add(name: "Connection", value: connection) }
        return headers
    }
}

/// The command line: `--host H --port P`, parsed by hand.
struct Options {
    static let usage = "usage: BareHTTPServer [--host 127.0.0.1] [--port 8081]"

    /// The address to bind. Default `127.0.0.1`.
    var host = "127.0.0.1"
    /// The port to bind; 0 picks a free one. Default 8081.
    var port = 8081

    /// An argument the server does not understand.
    struct UsageError: Error {
        var message: String
    }

    /// Parses `arguments`, the command line without the program's name.
    ///
    /// - Throws: ``UsageError`` for an unknown option, a missing value or a bad port.
    init(arguments: [String]) throws(UsageError) {
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            // Both `--port 80` and `--port=80`.
            let (name, inlineValue) = Self.split(argument)
            guard name == "--host" || name == "--port" else {
                throw UsageError(message: "unknown argument \"\(argument)\"")
            }
            guard let value = inlineValue ?? remaining.popFirst() else {
                throw UsageError(message: "\(name) needs a value")
            }
            if name == "--host" {
                host = value
            } else {
                guard let port = Int(value), (0...65535).contains(port) else {
                    throw UsageError(message: "--port must be a number from 0 to 65535, not \"\(value)\"")
                }
                self.port = port
            }
        }
    }

    private static func split(_ argument: String) -> (name: String, value: String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}

/// Writes one line to standard error, unbuffered.
func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { bytes in
        _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count)
    }
}
