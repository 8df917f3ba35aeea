import ModelHostCore
import NIOCore
import Testing

@testable import ModelHostHTTP

/// The skeleton of `text`, or its refusal.
private func request(_ text: String, binary: [UInt8]? = nil) throws(ModelHostError) -> InferenceRequest {
    let json = Array(text.utf8)
    guard let binary else { return try InferenceRequest(body: ByteBuffer(bytes: json)) }
    return try InferenceRequest(body: ByteBuffer(bytes: json + binary), jsonLength: json.count)
}

/// The message of the refusal of `text`, which must be an `invalid_request`.
private func refusal(_ text: String, binary: [UInt8]? = nil) -> String? {
    do throws(ModelHostError) {
        _ = try request(text, binary: binary)
        return nil
    } catch {
        #expect(error.code == .invalidRequest)
        return error.message
    }
}

@Suite("InferenceRequest")
struct InferenceRequestTests {
    // MARK: The skeleton

    @Test("the skeleton gives the id, the inputs' headers in order, and the outputs")
    func skeleton() throws {
        let body = #"""
            {"id": "req-1", "inputs": [
                {"name": "b", "shape": [2, 2], "datatype": "INT32", "data": [[1, 2], [3, 4]], "parameters": {"note": [1, {}]}},
                {"name": "a", "shape": [1], "datatype": "BYTES", "data": ["hi"], "extra": {"ignored": true}}
             ],
             "outputs": [{"name": "y"}, {"name": "z", "parameters": {"binary_data": true}}],
             "unknown": [1, 2, 3]}
            """#
        let parsed = try request(body)
        #expect(parsed.id == "req-1")
        #expect(parsed.headers == [TensorHeader(name: "b", datatype: .int32, shape: [2, 2]), TensorHeader(name: "a", datatype: .bytes, shape: [1])])
        #expect(parsed.requestedOutputs == ["y", "z"])
        #expect(parsed.binaryOutputs == ["z"])
        #expect(parsed.isBinary("z") && !parsed.isBinary("y"))
        #expect(parsed.timeoutMilliseconds == nil)
        let tensors = try parsed.decodeTensors()
        #expect(tensors == [
            try Tensor(name: "b", datatype: .int32, shape: [2, 2], json: .array([.array([.integer(1), .integer(2)]), .array([.integer(3), .integer(4)])])),
            try Tensor(name: "a", shape: [1], strings: ["hi"]),
        ])
    }

    @Test("a null id and absent or null outputs mean none")
    func defaults() throws {
        let parsed = try request(#"{"id": null, "inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": null}"#)
        #expect(parsed.id == nil)
        #expect(parsed.requestedOutputs == nil)
        #expect(!parsed.isBinary("x"))
    }

    @Test("binary_data_output sets the default; an output's own binary_data overrides it")
    func binaryOutputs() throws {
        let all = try request(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"binary_data_output": true}}"#)
        #expect(all.isBinaryOutputDefault)
        #expect(all.isBinary("anything"))
        let some = try request(#"""
            {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"binary_data_output": true},
             "outputs": [{"name": "p"}, {"name": "q", "parameters": {"binary_data": false}}, {"name": "r", "parameters": {"binary_data": "yes"}}]}
            """#)
        #expect(some.binaryOutputs == ["p"])
        #expect(!some.isBinary("other"))
    }

    // MARK: Timeout

    @Test("the timeout parameter is a positive number of milliseconds")
    func timeout() throws {
        let parsed = try request(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"timeout": 250}}"#)
        #expect(parsed.timeoutMilliseconds == 250)
        // Parameters that are not an object are ignored, as before.
        let ignored = try request(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": 5}"#)
        #expect(ignored.timeoutMilliseconds == nil)
    }

    @Test("any other timeout is refused, naming it", arguments: [
        ("0", "not 0"), ("-5", "not -5"), ("2.5", "not 2.5"), ("250.0", "not 250.0"), (#""250""#, "not a string"), ("true", "not a boolean"),
        ("null", "not null"), ("[250]", "not an array"), (#"{"ms": 250}"#, "not an object"), ("18446744073709551615", "not 18446744073709551615"),
    ])
    func badTimeout(_ value: String, _ description: String) {
        let message = refusal(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "parameters": {"timeout": \#(value)}}"#)
        #expect(message == "request body: \"parameters.timeout\" must be a positive integer number of milliseconds, \(description)")
    }

    // MARK: Data waits

    @Test("elements are not decoded by the skeleton, only by decodeTensors")
    func elementsWait() throws {
        let parsed = try request(#"{"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, "two", {"three": 3}]}]}"#)
        #expect(parsed.headers == [TensorHeader(name: "x", datatype: .fp32, shape: [3])])
        let error = #expect(throws: ModelHostError.self) { try parsed.decodeTensors() }
        #expect(error?.code == .invalidRequest)
        #expect(error?.message == #"inputs[0] tensor "x": element 1 is a string, FP32 needs a number"#)
    }

    @Test("data that does not fit its shape is refused by the skeleton", arguments: [
        (#"[1, 2]"#, "[3]", #"inputs[0] tensor "x": shape [3] needs 3 elements, data has 2"#),
        (#"[[1, 2], [3]]"#, "[2, 2]", #"inputs[0] tensor "x": nested data does not have shape [2, 2]; give it flat or nested exactly as the shape"#),
        (#"["a", "b", "c"]"#, "[2]", #"inputs[0] tensor "x": shape [2] needs 2 elements, data has 3"#),
    ])
    func layoutInSkeleton(_ data: String, _ shape: String, _ message: String) {
        #expect(refusal(#"{"inputs": [{"name": "x", "shape": \#(shape), "datatype": "FP32", "data": \#(data)}]}"#) == message)
    }

    @Test("malformed JSON anywhere is refused before any other fault")
    func syntaxFirst() {
        let message = refusal(#"{"inputs": 5, "id": 7, "later": [1,]}"#)
        #expect(message == "request body is not valid JSON: at byte 35: expected a value, found ']'")
        #expect(refusal(#"{"inputs": [{"name": "x", "name": "y"}]}"#)?.contains(#"duplicate key "name""#) == true)
        #expect(refusal(#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [01]}]}"#)?.contains("leading zeros") == true)
    }

    // MARK: Refusals, as before

    @Test("malformed requests are refused with the messages they always had", arguments: [
        ("[1]", "request body must be a JSON object"),
        (#"{"id": 5, "inputs": []}"#, #"request body: "id" must be a string, not a number"#),
        (#"{}"#, #"request body: "inputs" is required"#),
        (#"{"inputs": 5}"#, #"request body: "inputs" must be an array, not a number"#),
        (#"{"inputs": {"x": 1}}"#, #"request body: "inputs" must be an array, not an object"#),
        (#"{"inputs": []}"#, #"request body: "inputs" must hold at least one tensor"#),
        (#"{"inputs": [[1]]}"#, #"request body: "inputs[0]" must be an object, not an array"#),
        (#"{"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]}"#, "inputs[0].name is required and must be a string"),
        (#"{"inputs": [{"name": "x", "shape": [1], "data": [1]}]}"#, #"inputs[0] "x": datatype is required and must be a string"#),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP16", "data": [1]}]}"#, #"inputs[0] "x": datatype "FP16" is not supported"#),
        (#"{"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]}"#, #"inputs[0] "x": shape is required and must be an array of integers"#),
        (#"{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}"#, #"inputs[0] "x": shape must hold integers from 0 to 2147483647"#),
        (#"{"inputs": [{"name": "x", "shape": [1.0], "datatype": "FP32", "data": [1]}]}"#, "shape must hold integers"),
        (#"{"inputs": [{"name": "x", "shape": [1, "2"], "datatype": "FP32", "data": [1]}]}"#, "shape must hold integers"),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}"#, #"inputs[0] "x": data is required"#),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}, {"name": "x", "shape": [1], "datatype": "FP32", "data": [2]}]}"#,
         #"inputs[1]: "x" is given twice"#),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": 5}"#, #"request body: "outputs" must be an array, not a number"#),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": 5}]}"#,
         #"outputs[0]: must be an object with a string "name""#),
        (#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": ["y"]}"#, #"outputs[0]: must be an object"#),
    ])
    func refusals(_ body: String, _ message: String) {
        let refused = refusal(body)
        #expect(refused?.contains(message) == true, "\(refused ?? "accepted")")
    }

    @Test("the semantic checks run in the order they always did")
    func order() {
        // The id is checked before the inputs, whatever order the keys come in.
        #expect(refusal(#"{"inputs": 5, "id": 5}"#)?.contains(#""id""#) == true)
        // An input's own faults come before a later input's.
        #expect(refusal(#"{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1]}, 7]}"#)?.contains("inputs[0]") == true)
    }

    // MARK: Binary data

    @Test("binary tensor data is taken in order from after the JSON")
    func binaryData() throws {
        let values: [Float] = [1, 2.5, -3, 4]
        let raw = values.withUnsafeBytes { Array($0) }
        let text = #"""
            {"inputs": [
              {"name": "a", "shape": [4], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
              {"name": "b", "shape": [1], "datatype": "INT8", "data": [5]},
              {"name": "c", "shape": [2], "datatype": "BOOL", "parameters": {"binary_data_size": 2}, "data": "ignored"}
            ]}
            """#
        let parsed = try request(text, binary: raw + [1, 0])
        let tensors = try parsed.decodeTensors()
        #expect(tensors.map(\.data) == [raw, [5], [1, 0]])
        #expect(parsed.headers.map(\.name) == ["a", "b", "c"])
    }

    @Test("binary data that does not fit is refused, naming the input", arguments: [
        (#"{"binary_data_size": 8}"#, [UInt8](repeating: 0, count: 8), #"inputs[0] tensor "a": shape [4] of FP32 needs 16 bytes, got 8"#),
        (#"{"binary_data_size": 32}"#, [UInt8](repeating: 0, count: 16), #"inputs[0] "a": binary_data_size 32 runs past the binary data"#),
        (#"{"binary_data_size": -1}"#, [UInt8](), #"inputs[0] "a": binary_data_size must be a non-negative integer"#),
        (#"{"binary_data_size": "16"}"#, [UInt8](repeating: 0, count: 16), "binary_data_size must be a non-negative integer"),
        (#"{"binary_data_size": 16}"#, [UInt8](repeating: 0, count: 20), "4 bytes of binary data follow the last input that uses any"),
    ])
    func binaryRefusals(_ parameters: String, _ binary: [UInt8], _ message: String) {
        let text = #"{"inputs": [{"name": "a", "shape": [4], "datatype": "FP32", "parameters": \#(parameters)}]}"#
        let refused = refusal(text, binary: binary)
        #expect(refused?.contains(message) == true, "\(refused ?? "accepted")")
    }

    @Test("binary sizes without the length header, or a header past the body, are refused")
    func binaryFraming() throws {
        let text = #"{"inputs": [{"name": "a", "shape": [1], "datatype": "INT8", "parameters": {"binary_data_size": 1}}]}"#
        #expect(refusal(text)?.contains("runs past the binary data (send Inference-Header-Content-Length)") == true)
        let error = #expect(throws: ModelHostError.self) { try InferenceRequest(body: ByteBuffer(string: "{}"), jsonLength: 3) }
        #expect(error?.message == "Inference-Header-Content-Length is 3, the body has 2 bytes")
        // A BOOL byte other than 0 or 1 is a fault in the data, found when it is decoded.
        let flags = #"{"inputs": [{"name": "a", "shape": [1], "datatype": "BOOL", "parameters": {"binary_data_size": 1}}]}"#
        let parsed = try request(flags, binary: [2])
        let decodeError = #expect(throws: ModelHostError.self) { try parsed.decodeTensors() }
        #expect(decodeError?.message == #"inputs[0] tensor "a": BOOL element 2 is neither 0 nor 1"#)
    }
}
