import Foundation
import ModelHostTestKit

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client on loopback, for talking to a `modelhost serve` child process.
// Safe: the descriptor is set once; a client is used by one thread at a time, handed between
// them only through `onThread`, which orders the handoff.
final class SocketClient: @unchecked Sendable {
    private let descriptor: Int32

    /// Connects to `127.0.0.1:port`; reads give up after `timeout`.
    init(port: Int, timeout: TimeInterval = 10) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestKitError("socket failed") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            throw TestKitError("connect to port \(port) failed: errno \(errno)")
        }
    }

    deinit {
        close(descriptor)
    }

    /// Sends `text`; `false` once the peer has closed.
    @discardableResult
    func send(_ text: String) -> Bool {
        send(Array(text.utf8))
    }

    /// Sends `bytes`; `false` once the peer has closed.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Reads until the peer closes or the read timeout passes.
    func readAll() -> String {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// One request on a new connection with `Connection: close`; the whole response.
    static func request(port: Int, _ method: String, _ path: String, body: String? = nil, headers: [String] = []) throws -> String {
        let client = try SocketClient(port: port)
        var text = "\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        for header in headers { text += header + "\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body } else { text += "\r\n" }
        client.send(text)
        return client.readAll()
    }
}
