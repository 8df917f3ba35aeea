import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A minimal HTTP/1.1 client over SwiftNIO's codec, for talking to a live server in tests.
struct TestHTTPClient {
    struct Response {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var bytes: [UInt8] = []
        /// The body as UTF-8 text.
        var body: String { String(decoding: bytes, as: UTF8.self) }
    }

    let port: Int

    /// Sends one request on a new connection and reads the whole response.
    func send(_ method: HTTPMethod, _ path: String, body: String? = nil, headers extra: [(String, String)] = []) async throws -> Response {
        try await send(method, path, bytes: body.map { Array($0.utf8) }, headers: extra)
    }

    /// Sends one request with a body of raw bytes.
    func send(_ method: HTTPMethod, _ path: String, bytes body: [UInt8]?, headers extra: [(String, String)] = []) async throws -> Response {
        var headers = HTTPHeaders([("Host", "127.0.0.1"), ("Connection", "close")])
        headers.add(contentsOf: extra)
        if let body { headers.add(name: "Content-Length", value: String(body.count)) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        var parts: [HTTPClientRequestPart] = [.head(head)]
        if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        return try await exchange { outbound in try await outbound.write(contentsOf: parts) }
    }

    /// Sends raw bytes (for malformed requests) and returns the first line the server answers.
    func sendRaw(_ bytes: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            var received = ""
            for try await chunk in inbound {
                received += String(buffer: chunk)
                if let end = received.range(of: "\r\n") { return String(received[..<end.lowerBound]) }
            }
            return received
        }
    }

    private func exchange(_ write: (NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws -> Void) async throws -> Response {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await write(outbound)
            return try await Self.read(inbound)
        }
    }

    private static func read(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws -> Response {
        var response: Response?
        for try await part in inbound {
            switch part {
            case .head(let head):
                response = Response(status: head.status, headers: head.headers)
            case .body(let buffer):
                response?.bytes += Array(buffer.readableBytesView)
            case .end:
                if let response { return response }
            }
        }
        guard let response else { throw TestClientError.noResponse }
        return response
    }
}

enum TestClientError: Error {
    case noResponse
}
