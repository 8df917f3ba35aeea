import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelRegistry
import Scheduler
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// The whole server, live on an ephemeral port, serving the real example plugins.
@Suite struct HTTPServerTests {
    /// The example bundles plus a broken `echo` 2.0.0, served once for the whole suite on an
    /// ephemeral port with a 64 KiB body limit.
    private static let sharedServer = Task<Int, any Error> {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        try models.addExample("intent-classifier")
        try models.addExample("anomaly-detector")
        // Its create fails: the prefix is longer than the echo plugin accepts.
        try models.addExample("echo", version: "2.0.0") { $0["config"] = ["outputPrefix": String(repeating: "x", count: 100)] }
        let registry = ModelRegistry()
        _ = try await ModelRepository(configuration: .init(directory: models.path), registry: registry, scheduler: Scheduler()).loadAll()
        var configuration = HTTPServer.Configuration()
        configuration.port = 0
        configuration.maxBodyBytes = 64 << 10
        let server = try await HTTPServer.bind(configuration: configuration, service: ModelHostService(registry: registry))
        Task { [models] in
            // Keeps the bundles on disk for as long as the server runs.
            withExtendedLifetime(models) {}
            try await server.run()
        }
        return server.port
    }

    private func withLiveServer(_ body: (TestHTTPClient) async throws -> Void) async throws {
        try await body(TestHTTPClient(port: try await Self.sharedServer.value))
    }

    private func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func healthAndServerMetadata() async throws {
        try await withLiveServer { client in
            let live = try await client.send(.GET, "/v2/health/live")
            #expect(live.status == .ok)
            #expect(try json(live.body)["live"] as? Bool == true)
            let ready = try await client.send(.GET, "/v2/health/ready")
            #expect(ready.status == .ok)
            #expect(try json(ready.body)["ready"] as? Bool == true)
            let metadata = try json(try await client.send(.GET, "/v2").body)
            #expect(metadata["name"] as? String == "modelhost")
            #expect((metadata["extensions"] as? [String])?.contains("model_repository") == true)
        }
    }

    @Test func modelMetadataAndReadiness() async throws {
        try await withLiveServer { client in
            let response = try await client.send(.GET, "/v2/models/intent-classifier")
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "X-Model-Version") == "1.0.0")
            let metadata = try json(response.body)
            #expect(metadata["name"] as? String == "intent-classifier")
            #expect(metadata["versions"] as? [String] == ["1.0.0"])
            let inputs = try #require(metadata["inputs"] as? [[String: Any]])
            #expect(inputs.first?["name"] as? String == "query")
            #expect(inputs.first?["datatype"] as? String == "BYTES")
            #expect(inputs.first?["shape"] as? [Int] == [-1])

            let versioned = try await client.send(.GET, "/v2/models/intent-classifier/versions/1.0.0")
            #expect(versioned.status == .ok)
            let ready = try await client.send(.GET, "/v2/models/echo/versions/1.0.0/ready")
            #expect(ready.status == .ok)
            #expect(try json(ready.body)["ready"] as? Bool == true)
        }
    }

    @Test func echoInferReturnsItsInput() async throws {
        try await withLiveServer { client in
            for (shape, data) in [("[4]", "[1, 2.5, 3, 4]"), ("[4]", "[1.0, 2.5, 3.0, 4.0]")] {
                let body = #"{"id": "req-7", "inputs": [{"name": "input0", "shape": \#(shape), "datatype": "FP32", "data": \#(data)}]}"#
                let response = try await client.send(.POST, "/v2/models/echo/infer", body: body)
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "X-Model-Version") == "1.0.0")
                let answer = try json(response.body)
                #expect(answer["id"] as? String == "req-7")
                #expect(answer["model_name"] as? String == "echo")
                #expect(answer["model_version"] as? String == "1.0.0")
                let output = try #require((answer["outputs"] as? [[String: Any]])?.first)
                #expect(output["name"] as? String == "input0")
                #expect(output["datatype"] as? String == "FP32")
                #expect(output["data"] as? [Double] == [1, 2.5, 3, 4])
            }
            let versioned = try await client.send(
                .POST, "/v2/models/echo/versions/1.0.0/infer",
                body: #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [7]}]}"#
            )
            #expect(versioned.status == .ok)
        }
    }

    /// The binary tensor data extension, as tritonclient sends it by default: JSON, then raw bytes.
    @Test func binaryTensorDataInAndOut() async throws {
        try await withLiveServer { client in
            let values: [Float] = [1, 2.5, -3, 4]
            let raw = values.withUnsafeBytes { Array($0) }
            let header = Array(#"{"inputs":[{"name":"input0","shape":[4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true}}"#.utf8)
            let response = try await client.send(
                .POST, "/v2/models/echo/infer", bytes: header + raw,
                headers: [("Inference-Header-Content-Length", String(header.count))]
            )
            #expect(response.status == .ok)
            let jsonLength = try #require(response.headers.first(name: "Inference-Header-Content-Length").flatMap(Int.init))
            let json = try #require(try JSONSerialization.jsonObject(with: Data(response.bytes[..<jsonLength])) as? [String: Any])
            let output = try #require((json["outputs"] as? [[String: Any]])?.first)
            #expect((output["parameters"] as? [String: Any])?["binary_data_size"] as? Int == 16)
            #expect(output["data"] == nil)
            #expect(Array(response.bytes[jsonLength...]) == raw)

            // Mixed: the same tensor as JSON data in, one output asked for as JSON.
            let mixed = try await client.send(
                .POST, "/v2/models/echo/infer",
                body: #"{"inputs":[{"name":"input0","shape":[1],"datatype":"FP32","data":[7]}],"outputs":[{"name":"input0","parameters":{"binary_data":false}}]}"#
            )
            #expect(mixed.headers.first(name: "Inference-Header-Content-Length") == nil)
            #expect(mixed.body.contains(#""data":[7.0]"#))

            // A size that runs past the body is refused, naming the input.
            let short = try await client.send(
                .POST, "/v2/models/echo/infer", bytes: header + raw.prefix(8),
                headers: [("Inference-Header-Content-Length", String(header.count))]
            )
            #expect(short.status == .badRequest)
            #expect(short.body.contains("input0"))
        }
    }

    @Test func intentClassifierOverBothAPIs() async throws {
        try await withLiveServer { client in
            let predicted = try await client.send(.POST, "/predict/intent-classifier", body: #"{"query": "What is my balance?"}"#)
            #expect(predicted.status == .ok)
            #expect(predicted.headers.first(name: "X-Model-Version") == "1.0.0")
            let plain = try json(predicted.body)
            #expect(plain["intent"] as? String == "check_balance")
            let confidence = try #require(plain["confidence"] as? Double)
            #expect(confidence > 0.5 && confidence <= 1)

            let body = #"{"inputs": [{"name": "query", "shape": [2], "datatype": "BYTES", "data": ["I lost my card", "What is my balance?"]}], "outputs": [{"name": "intent"}]}"#
            let response = try await client.send(.POST, "/v2/models/intent-classifier/infer", body: body)
            #expect(response.status == .ok)
            let outputs = try #require(try json(response.body)["outputs"] as? [[String: Any]])
            #expect(outputs.count == 1)
            #expect(outputs[0]["data"] as? [String] == ["card_lost_or_stolen", "check_balance"])
        }
    }

    @Test func anomalyDetectorOverPredict() async throws {
        try await withLiveServer { client in
            let body = #"{"amount": 9000, "timestamp": "2026-03-14T03:00:00Z", "merchant_category": "grocery"}"#
            let response = try await client.send(.POST, "/predict/anomaly-detector", body: body)
            #expect(response.status == .ok)
            #expect(try json(response.body)["is_anomaly"] as? Bool == true)
        }
    }

    @Test func oneBrokenBundleIsReportedAndTheRestServe() async throws {
        try await withLiveServer { client in
            let index = try await client.send(.POST, "/v2/repository/index")
            #expect(index.status == .ok)
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(index.body.utf8)) as? [[String: Any]])
            let broken = try #require(entries.first { $0["name"] as? String == "echo" && $0["version"] as? String == "2.0.0" })
            #expect(broken["state"] as? String == "UNAVAILABLE")
            #expect((broken["reason"] as? String)?.contains("create_failed") == true)
            let working = try #require(entries.first { $0["name"] as? String == "echo" && $0["version"] as? String == "1.0.0" })
            #expect(working["state"] as? String == "READY")
            #expect(working["active"] as? Bool == true)

            let infer = try await client.send(.POST, "/v2/models/echo/infer", body: #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}]}"#)
            #expect(infer.status == .ok)
            #expect(infer.headers.first(name: "X-Model-Version") == "1.0.0")
            let pinned = try await client.send(.POST, "/v2/models/echo/versions/2.0.0/infer", body: #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}]}"#)
            #expect(pinned.status == .serviceUnavailable)
            #expect(try json(pinned.body)["code"] as? String == "model_not_ready")
        }
    }

    @Test(arguments: [
        ("not json", "invalid_request", "not valid JSON"),
        (#"{"inputs": 5}"#, "invalid_request", "inputs"),
        (#"{"inputs": [{"name": "input0", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}"#, "invalid_request", "input0"),
        (#"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP16", "data": [1]}]}"#, "invalid_request", "FP16"),
        (#"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": ["a"]}]}"#, "invalid_request", "element 0"),
        (#"{"inputs": [{"name": "bogus", "shape": [1], "datatype": "FP32", "data": [1]}]}"#, "validation_failed", "bogus"),
        (#"{"inputs": [{"name": "input0", "shape": [1], "datatype": "INT32", "data": [1]}]}"#, "validation_failed", "FP32"),
        (#"{"inputs": [{"name": "input0", "shape": [1, 1], "datatype": "FP32", "data": [1]}]}"#, "validation_failed", "shape"),
        (#"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": "nope"}]}"#, "validation_failed", "nope"),
    ])
    func badBodiesAreRefusedWithTheirReason(body: String, code: String, mention: String) async throws {
        try await withLiveServer { client in
            let response = try await client.send(.POST, "/v2/models/echo/infer", body: body)
            #expect(response.status == .badRequest)
            let error = try json(response.body)
            #expect(error["code"] as? String == code)
            #expect((error["error"] as? String)?.contains(mention) == true, "\(error)")
        }
    }

    /// The manifest's declarations are checked before the data is decoded: a batch over the
    /// limit is refused for its size, though an element would fail decoding (a string in an FP32
    /// tensor, a number in a BYTES one), which decoding first would have reported instead.
    @Test func aRefusedShapeIsRefusedBeforeItsDataIsDecoded() async throws {
        try await withLiveServer { client in
            let data = (["\"not a number\""] + Array(repeating: "1", count: 1024)).joined(separator: ",")
            let body = #"{"inputs": [{"name": "input0", "shape": [1025], "datatype": "FP32", "data": [\#(data)]}]}"#
            let response = try await client.send(.POST, "/v2/models/echo/infer", body: body)
            #expect(response.status == .badRequest)
            let error = try json(response.body)
            #expect(error["code"] as? String == "validation_failed")
            #expect(error["error"] as? String == #"input "input0": batch of 1025 is over the limit of 1024"#)

            // Within the limit, the same element is what is refused.
            let small = #"{"inputs": [{"name": "input0", "shape": [2], "datatype": "FP32", "data": ["not a number", 1]}]}"#
            let decoded = try json(try await client.send(.POST, "/v2/models/echo/infer", body: small).body)
            #expect(decoded["code"] as? String == "invalid_request")
            #expect((decoded["error"] as? String)?.contains("element 0 is a string, FP32 needs a number") == true)

            let queries = (["5"] + Array(repeating: #""hi""#, count: 32)).joined(separator: ",")
            let predicted = try await client.send(.POST, "/predict/intent-classifier", body: #"{"query": [\#(queries)]}"#)
            #expect(predicted.status == .badRequest)
            let predictError = try json(predicted.body)
            #expect(predictError["code"] as? String == "validation_failed")
            #expect(predictError["error"] as? String == #"input "query": batch of 33 is over the limit of 32"#)
        }
    }

    @Test func theTimeoutParameterIsReadAndAMalformedOneRefused() async throws {
        try await withLiveServer { client in
            let valid = #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"timeout": 250}}"#
            #expect(try await client.send(.POST, "/v2/models/echo/infer", body: valid).status == .ok)
            let invalid = #"{"inputs": [{"name": "input0", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"timeout": "soon"}}"#
            let response = try await client.send(.POST, "/v2/models/echo/infer", body: invalid)
            #expect(response.status == .badRequest)
            let error = try json(response.body)
            #expect(error["code"] as? String == "invalid_request")
            #expect((error["error"] as? String)?.contains("parameters.timeout") == true)
        }
    }

    @Test func unknownModelsVersionsAndRoutes() async throws {
        try await withLiveServer { client in
            let model = try await client.send(.POST, "/v2/models/nope/infer", body: "{}")
            #expect(model.status == .notFound)
            #expect(try json(model.body)["code"] as? String == "model_not_found")
            let version = try await client.send(.GET, "/v2/models/echo/versions/9.9.9")
            #expect(version.status == .notFound)
            #expect((try json(version.body)["error"] as? String)?.contains("9.9.9") == true)
            let route = try await client.send(.GET, "/v3/anything")
            #expect(route.status == .notFound)
            #expect(try json(route.body)["code"] as? String == "route_not_found")
            let method = try await client.send(.GET, "/v2/models/echo/infer")
            #expect(method.status == .methodNotAllowed)
            #expect(method.headers.first(name: "Allow") == "POST")
        }
    }

    @Test func bodiesOverTheLimitGet413() async throws {
        try await withLiveServer { client in
            let data = Array(repeating: "1.5", count: 30_000).joined(separator: ",")
            let body = #"{"inputs": [{"name": "input0", "shape": [30000], "datatype": "FP32", "data": [\#(data)]}]}"#
            let response = try await client.send(.POST, "/v2/models/echo/infer", body: body)
            #expect(response.status == .payloadTooLarge)
            #expect(try json(response.body)["code"] as? String == "payload_too_large")
            let after = try await client.send(.GET, "/v2/health/live")
            #expect(after.status == .ok)
        }
    }

    @Test func malformedHTTPGets400AndTheServerKeepsServing() async throws {
        try await withLiveServer { client in
            let statusLine = try await client.sendRaw("GARBAGE\r\n\r\n")
            #expect(statusLine.hasPrefix("HTTP/1.1 400"))
            let after = try await client.send(.GET, "/v2/health/live")
            #expect(after.status == .ok)
        }
    }
}
