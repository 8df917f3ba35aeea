import Foundation
import ModelHostTestKit
import NIOHTTP1
import Testing

@testable import ModelHostHTTP

/// Batches from callers, live: `{"instances": [...]}` on `/predict/{m}` and the KServe v1 routes,
/// against the example plugins and a fixture whose output ignores the batch.
@Suite struct PredictInstancesTests {
    /// Echo, the intent classifier and `one-row` (always one INT32 `y`), served once for the suite;
    /// bodies over 512 bytes are decoded on the model's thread.
    private static let sharedServer = Task<LiveServer, any Error> {
        let models = try ModelsDirectory()
        try models.addExample("echo")
        try models.addExample("intent-classifier")
        try await FixtureBundle.make(
            "one-row", source: FixtureSource.make(infer: #"return fixture_write_int(sink, "y", 7, error);"#), in: models,
            outputs: [["name": "y", "datatype": "INT32", "shape": [-1]]]
        )
        let live = try await LiveServer(models: models) { _ in } service: { $0.offloadedDecodingThreshold = 512 }
        await live.loaded()
        return live
    }

    private func client() async throws -> TestHTTPClient {
        try await Self.sharedServer.value.client
    }

    private func json(_ response: TestHTTPClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.bytes)) as? [String: Any], "\(response.body)")
    }

    /// The body `{"instances": [...]}` of these single bodies.
    private func batch(_ instances: [String]) -> String {
        #"{"instances": [\#(instances.joined(separator: ", "))]}"#
    }

    @Test(arguments: ["/predict/intent-classifier", "/v1/models/intent-classifier:predict"])
    func eachPredictionIsTheSingleAnswerForItsInstance(path: String) async throws {
        let client = try await client()
        let instances = [#"{"query": "I lost my card"}"#, #"{"query": "What is my balance?"}"#, #"{"query": "send 50 dollars to my sister"}"#]
        var singles: [NSDictionary] = []
        for instance in instances {
            let single = try await client.send(.POST, "/predict/intent-classifier", body: instance)
            #expect(single.status == .ok)
            singles.append(try json(single) as NSDictionary)
        }
        let response = try await client.send(.POST, path, body: batch(instances), headers: [("Content-Type", "application/json")])
        #expect(response.status == .ok, "\(response.body)")
        #expect(response.headers.first(name: "Content-Type") == "application/json")
        #expect(response.headers.first(name: "X-Model-Version") == "1.0.0")
        let answer = try json(response)
        #expect(Array(answer.keys) == ["predictions"])
        let predictions = try #require(answer["predictions"] as? [[String: Any]])
        #expect(predictions.map { $0 as NSDictionary } == singles)
        #expect(predictions.map { $0["intent"] as? String } == ["card_lost_or_stolen", "check_balance", "transfer_money"])
    }

    @Test func instancesOfDifferentRowsGetTheirOwnRowsBack() async throws {
        let client = try await client()
        let instances = [#"{"input0": [1, 2], "text": ["a", "b"]}"#, #"{"input0": 3, "text": "c"}"#, #"{"input0": [4, 5, 6], "text": ["d", "e", "f"]}"#]
        let response = try await client.send(.POST, "/v1/models/echo:predict", body: batch(instances))
        #expect(response.status == .ok, "\(response.body)")
        #expect(response.body == #"{"predictions":[{"input0":[1.0,2.0],"text":["a","b"]},{"input0":3.0,"text":"c"},{"input0":[4.0,5.0,6.0],"text":["d","e","f"]}]}"#)
        for (index, instance) in instances.enumerated() {
            let single = try await client.send(.POST, "/predict/echo", body: instance)
            #expect(try json(single) as NSDictionary == ((try json(response)["predictions"] as? [[String: Any]])?[index] as NSDictionary?))
        }
    }

    @Test func aLargeBatchIsDecodedOnTheModelsThreadAlike() async throws {
        let instances = (0..<40).map { #"{"input0": [\#($0), \#($0 + 1)], "text": ["instance \#($0)", "row 2"]}"# }
        let body = batch(instances)
        #expect(body.utf8.count > 512)
        let response = try await client().send(.POST, "/predict/echo", body: body)
        #expect(response.status == .ok, "\(response.body)")
        let predictions = try #require(try json(response)["predictions"] as? [[String: Any]])
        #expect(predictions.count == 40)
        let numbers: [[Double]?] = (0..<40).map { [Double($0), Double($0 + 1)] }
        let texts: [[String]?] = (0..<40).map { ["instance \($0)", "row 2"] }
        #expect(predictions.map { $0["input0"] as? [Double] } == numbers)
        #expect(predictions.map { $0["text"] as? [String] } == texts)
    }

    @Test(arguments: [
        ("/v1/models/echo:predict", #"{"input0": 1}"#, "invalid_request", #"request body: "instances" is required"#),
        ("/predict/echo", #"{"instances": []}"#, "invalid_request", #""instances": must hold at least one instance"#),
        ("/predict/intent-classifier", "{\"instances\": [" + Array(repeating: #"{"query": "hi"}"#, count: 33).joined(separator: ",") + "]}",
         "validation_failed", #""instances": 33 instances are over the model's limit of 32 (limits.maxBatch)"#),
        ("/v1/models/intent-classifier:predict", #"{"instances": [{"query": "hi"}, {"query": ""}]}"#, "validation_failed", #"instances[1]: input "query": shorter than 1 byte"#),
        ("/v1/models/echo:predict", #"{"instances": [{"input0": 1, "text": "a"}, {"input0": 2}]}"#, "invalid_request",
         #"instances[0] and instances[1]: input "text" is in the first and not in the second"#),
        ("/predict/echo", #"{"instances": [{"input0": 1}, {"input0": "one"}]}"#, "invalid_request", #"instances[1]: tensor "input0": element 0 is a string"#),
    ])
    func badBatchesAreRefusedWhole(path: String, body: String, code: String, message: String) async throws {
        let response = try await client().send(.POST, path, body: body)
        #expect(response.status == .badRequest)
        let error = try json(response)
        #expect(error["code"] as? String == code)
        #expect((error["error"] as? String)?.contains(message) == true, "\(error)")
    }

    @Test func outputsWithoutARowPerInstanceAreAPluginError() async throws {
        let client = try await client()
        let one = try await client.send(.POST, "/predict/one-row", body: #"{"instances": [{"x": 1}]}"#)
        #expect(one.status == .ok)
        #expect(one.body == #"{"predictions":[{"y":7}]}"#)
        let two = try await client.send(.POST, "/predict/one-row", body: #"{"instances": [{"x": 1}, {"x": 2}]}"#)
        #expect(two.status == .internalServerError)
        let error = try json(two)
        #expect(error["code"] as? String == "plugin_error")
        #expect(error["error"] as? String == #"model "one-row" returned a batch it cannot be split by instance: output "y" has a first dimension of 1 for a batch of 2 rows"#)
    }

    @Test func v1ModelStatus() async throws {
        let client = try await client()
        let echo = try await client.send(.GET, "/v1/models/echo")
        #expect(echo.status == .ok)
        #expect(echo.headers.first(name: "Content-Type") == "application/json")
        #expect(echo.body == #"{"name":"echo","ready":true}"#)
        let unknown = try await client.send(.GET, "/v1/models/nope")
        #expect(unknown.status == .notFound)
        #expect(try json(unknown)["code"] as? String == "model_not_found")
        let unknownPredict = try await client.send(.POST, "/v1/models/nope:predict", body: #"{"instances": [{"x": 1}]}"#)
        #expect(unknownPredict.status == .notFound)

        let status = try await client.send(.POST, "/v1/models/echo")
        #expect(status.status == .methodNotAllowed)
        #expect(status.headers.first(name: "Allow") == "GET")
        let predict = try await client.send(.GET, "/v1/models/echo:predict")
        #expect(predict.status == .methodNotAllowed)
        #expect(predict.headers.first(name: "Allow") == "POST")
        #expect(try await client.send(.POST, "/v1/models/echo:explain").status == .notFound)

        let metadata = try json(try await client.send(.GET, "/v2"))
        #expect((metadata["extensions"] as? [String])?.contains("kserve_v1") == true)
    }
}
