import Foundation
import Gatekeeper
import ModelHostTestKit
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// What the connection handler decides from a request's head, before reading its body: refusals
/// answered at once, `100 Continue` only after admission, and the memory budget for bodies.
@Suite struct HTTPRequestHandlerTests {
    /// A live server with echo behind the Gatekeeper, and a key it accepts.
    private func withGatedServer(
        configure: (inout HTTPServer.Configuration) -> Void = { _ in },
        _ body: (LiveServer, String) async throws -> Void
    ) async throws {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        var file = KeyFile(path: "/nonexistent/keys.json")
        let key = try file.create(name: "handler", scopes: [.infer], now: Date()).key
        let gatekeeper = Gatekeeper(keys: KeyRing(records: file.records), clock: ContinuousClock())
        let live = try await LiveServer(models: models, admission: gatekeeper, configure: configure)
        await live.loaded()
        try await body(live, key.reveal())
        await live.stop()
    }

    private func head(_ path: String = "/v2/models/echo/infer", length: Int, key: String? = nil, extra: String = "") -> String {
        var text = "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n"
        if let key { text += "X-API-Key: \(key)\r\n" }
        return text + extra + "\r\n"
    }

    @Test func anUnauthenticatedLargeBodyIsRefusedFromItsHeadAndTheConnectionClosed() async throws {
        try await withGatedServer { live, _ in
            let connection = try await RawConnection(port: live.port)
            // The head of an 8 MiB request and one kilobyte of it: the answer comes without the rest.
            await connection.send(head(length: 8 << 20) + String(repeating: "1", count: 1024))
            #expect(await connection.read(until: "\r\n\r\n", within: .seconds(5)))
            #expect(connection.received.hasPrefix("HTTP/1.1 401"))
            #expect(connection.received.lowercased().contains("connection: close"))
            #expect(await connection.waitForClose(within: .seconds(5)))
            await connection.close()
        }
    }

    @Test func aSmallRefusedBodyIsDroppedAndTheConnectionServesTheNextRequest() async throws {
        try await withGatedServer { live, key in
            let connection = try await RawConnection(port: live.port)
            await connection.send(head(length: echoInferBody.utf8.count) + echoInferBody)
            #expect(await connection.read(until: "unauthenticated"))
            #expect(connection.received.hasPrefix("HTTP/1.1 401"))
            await connection.send(head(length: echoInferBody.utf8.count, key: key) + echoInferBody)
            #expect(await connection.read(until: "\"model_name\":\"echo\""))
            #expect(connection.received.contains("HTTP/1.1 200"))
            #expect(!connection.isClosedByServer)
            await connection.close()
        }
    }

    @Test func continueIsSentOnlyToAnAdmittedRequest() async throws {
        try await withGatedServer { live, key in
            let refused = try await RawConnection(port: live.port)
            await refused.send(head(length: echoInferBody.utf8.count, extra: "Expect: 100-continue\r\n"))
            #expect(await refused.read(until: "unauthenticated"))
            #expect(refused.received.hasPrefix("HTTP/1.1 401"))
            #expect(!refused.received.contains("100 Continue"))
            await refused.close()

            let admitted = try await RawConnection(port: live.port)
            await admitted.send(head(length: echoInferBody.utf8.count, key: key, extra: "Expect: 100-continue\r\n"))
            #expect(await admitted.read(until: "HTTP/1.1 100 Continue\r\n\r\n"))
            #expect(!admitted.received.contains("200"))
            await admitted.send(echoInferBody)
            #expect(await admitted.read(until: "\"model_name\":\"echo\""))
            #expect(admitted.received.contains("HTTP/1.1 200"))
            await admitted.close()
        }
    }

    @Test func aBodyBeyondTheMemoryBudgetIsOverloaded() async throws {
        try await withGatedServer(configure: { $0.maxBufferedBodyBytes = 1000 }) { live, key in
            let padding = String(repeating: " ", count: 1500)
            let large = try await live.client.send(.POST, "/v2/models/echo/infer", body: echoInferBody + padding, headers: [("X-API-Key", key)])
            #expect(large.status == .serviceUnavailable)
            #expect(large.body.contains("\"code\":\"overloaded\""))
            #expect(large.headers.first(name: "Retry-After") != nil)
            // The reservation was given back: a body within the budget is served.
            let small = try await live.client.send(.POST, "/v2/models/echo/infer", body: echoInferBody, headers: [("X-API-Key", key)])
            #expect(small.status == .ok)
        }
    }

    @Test func aChunkedBodyIsHeldToTheSameLimits() async throws {
        try await withGatedServer(configure: { $0.maxBodyBytes = 4096 }) { live, key in
            let connection = try await RawConnection(port: live.port)
            await connection.send("POST /v2/models/echo/infer HTTP/1.1\r\nHost: x\r\nX-API-Key: \(key)\r\nTransfer-Encoding: chunked\r\n\r\n")
            let chunk = String(repeating: " ", count: 3000)
            for _ in 0..<2 {
                await connection.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
            }
            #expect(await connection.read(until: "payload_too_large"))
            #expect(connection.received.hasPrefix("HTTP/1.1 413"))
            await connection.close()
        }
    }

    @Test func everyResponseCarriesARequestID() async throws {
        try await withGatedServer { live, key in
            let given = try await live.client.send(.POST, "/v2/models/echo/infer", body: echoInferBody, headers: [("X-API-Key", key), ("X-Request-ID", "trace-42")])
            #expect(given.headers.first(name: "X-Request-ID") == "trace-42")
            let made = try await live.client.send(.GET, "/v2/health/live", headers: [("X-Request-ID", "no spaces allowed")])
            let id = try #require(made.headers.first(name: "X-Request-ID"))
            #expect(id != "no spaces allowed")
            #expect(!id.isEmpty)
        }
    }

    @Test func aLargeBodyIsDecodedOffTheEventLoopAndAnsweredTheSame() async throws {
        try await withGatedServer { live, key in
            // 20 strings of 4,000 bytes: well above the 64 KiB decoded on the event loop.
            let strings = (0..<20).map { "\"" + String(repeating: String($0 % 10), count: 4000) + "\"" }
            let body = #"{"id":"big","inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[1]},{"name":"text","shape":[20],"datatype":"BYTES","data":[\#(strings.joined(separator: ","))]}]}"#
            #expect(body.utf8.count > 64 << 10)
            let response = try await live.client.send(.POST, "/v2/models/echo/infer", body: body, headers: [("X-API-Key", key)])
            #expect(response.status == .ok, "\(response.body.prefix(300))")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            #expect(answer["id"] as? String == "big")
            let outputs = try #require(answer["outputs"] as? [[String: Any]])
            let text = try #require(outputs.first { $0["name"] as? String == "text" }?["data"] as? [String])
            #expect(text.count == 20)
            #expect(text[13] == String(repeating: "3", count: 4000))
            // A large body the manifest refuses is refused the same way.
            let wrong = body.replacingOccurrences(of: "\"input0\"", with: "\"nope\"")
            let refused = try await live.client.send(.POST, "/v2/models/echo/infer", body: wrong, headers: [("X-API-Key", key)])
            #expect(refused.status == .badRequest)
            #expect(refused.body.contains("validation_failed"))
        }
    }
}
