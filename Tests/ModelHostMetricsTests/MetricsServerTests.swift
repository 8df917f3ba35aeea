import ModelRegistry
import NIOCore
import NIOPosix
import Testing

@testable import ModelHostMetrics
@testable import Telemetry

#if canImport(Glibc)
import Glibc
#endif

@Suite struct MetricsServerTests {
    @Test func metricsAreServedOnTheirOwnPortAndNothingElseIs() async throws {
        let counters = EdgeCounters()
        counters.edgeRequests.increment("ok")
        var configuration = MetricsServer.Configuration()
        configuration.port = 0
        let server = try await MetricsServer.bind(
            configuration: configuration, collector: MetricsCollector(registry: ModelRegistry(), counters: counters, serverVersion: "1.2.3")
        )
        let metrics = try Self.get("GET /metrics HTTP/1.1", port: server.port)
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(metrics.contains("modelhost_edge_requests_total{code=\"ok\"} 1\n"))
        #expect(metrics.contains("process_resident_memory_bytes "))
        #expect(try Self.get("GET /v2/models HTTP/1.1", port: server.port).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try Self.get("POST /metrics HTTP/1.1", port: server.port).hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        await server.shutdown()
    }

    /// Sends one request line with `Connection: close` and reads the whole answer.
    private static func get(_ requestLine: String, port: Int) throws -> String {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let request = Array("\(requestLine)\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer += chunk[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
