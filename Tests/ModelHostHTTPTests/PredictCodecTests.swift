import Foundation
import ModelHostCore
import ModelManifest
import NIOCore
import Testing

@testable import ModelHostHTTP

@Suite("PredictCodec")
struct PredictCodecTests {
    /// Inputs: `amount` FP64 [-1], `tags` BYTES [-1, 2], `flag` BOOL [1] and `grid` FP32 [-1, 2, 2] (both optional).
    static func manifest() throws -> Manifest {
        let text = #"""
            {"manifestVersion": 1, "name": "plain", "version": "1.0.0", "library": "libPlain.so", "sha256": "", "abiVersion": 1,
             "inputs": [{"name": "amount", "datatype": "FP64", "shape": [-1]},
                        {"name": "tags", "datatype": "BYTES", "shape": [-1, 2]},
                        {"name": "flag", "datatype": "BOOL", "shape": [1], "required": false},
                        {"name": "grid", "datatype": "FP32", "shape": [-1, 2, 2], "required": false}],
             "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}],
             "limits": {"maxBatch": 4}}
            """#
        return try Manifest.parse(Data(text.utf8), file: "plain.json")
    }

    static func request(_ text: String) throws(ModelHostError) -> PredictCodec.Request {
        let manifest: Manifest
        do { manifest = try Self.manifest() } catch { throw ModelHostError(.internal, "\(error)") }
        return try PredictCodec.request(from: ByteBuffer(string: text), manifest: manifest)
    }

    @Test("headers come in name order, with the manifest's datatypes and the nesting's shape padded to the declared rank")
    func headers() throws {
        let request = try Self.request(#"{"tags": ["a", "b"], "flag": true, "amount": 12.5}"#)
        #expect(request.headers == [
            TensorHeader(name: "amount", datatype: .fp64, shape: [1]),
            TensorHeader(name: "flag", datatype: .bool, shape: [1]),
            TensorHeader(name: "tags", datatype: .bytes, shape: [1, 2]),
        ])
        let tensors = try request.decodeTensors()
        #expect(tensors[0].data == withUnsafeBytes(of: Double(12.5).bitPattern.littleEndian) { Array($0) })
        #expect(tensors[1].data == [1])
        #expect(tensors[2] == (try Tensor(name: "tags", shape: [1, 2], strings: ["a", "b"])))

        let batch = try Self.request(#"{"amount": [1, 2, 3], "tags": [["a", "b"], ["c", "d"]]}"#)
        #expect(batch.headers.map(\.shape) == [[3], [2, 2]])
        #expect(try batch.decodeTensors()[1] == (try Tensor(name: "tags", shape: [2, 2], strings: ["a", "b", "c", "d"])))
    }

    @Test("elements wait for decodeTensors, so a refused batch is refused before they are read")
    func elementsWait() throws {
        let request = try Self.request(#"{"amount": [1, "two", 3, 4, 5], "tags": [["a", "b"]]}"#)
        #expect(request.headers.first == TensorHeader(name: "amount", datatype: .fp64, shape: [5]))
        let validator = try InputValidator(manifest: Self.manifest())
        let refused = #expect(throws: ModelHostError.self) { try validator.checkDeclarations(request.headers) }
        #expect(refused?.message == #"input "amount": batch of 5 is over the limit of 4"#)
        let error = #expect(throws: ModelHostError.self) { try request.decodeTensors() }
        #expect(error?.code == .invalidRequest)
        #expect(error?.message == #"tensor "amount": element 1 is a string, FP64 needs a number"#)
    }

    @Test("bodies are refused as they always were", arguments: [
        ("not json", "invalid_request", "request body is not valid JSON: at byte 0"),
        ("[1]", "invalid_request", "request body: must be a JSON object keyed by input name"),
        (#"{"amount": 1, "amount": 2}"#, "invalid_request", #"duplicate key "amount""#),
        (#"{"amount": 1, "bogus": 2}"#, "validation_failed", #""bogus" is not an input of model "plain" (inputs: amount, tags, flag, grid)"#),
        (#"{"amount": [[1], [2, 3]]}"#, "invalid_request", #""amount": nested arrays must be rectangular"#),
        (#"{"tags": [["a", "b"], ["c"]], "amount": 1}"#, "invalid_request", #""tags": nested arrays must be rectangular"#),
        // Nesting is padded only when flat: nested data keeps its own shape.
        (#"{"amount": 1, "tags": ["a", "b"], "grid": [[1, 2], [3, 4]]}"#, "invalid_request", #"tensor "grid": nested data does not have shape [1, 2, 2]"#),
    ])
    func refusals(_ body: String, _ code: String, _ message: String) {
        do throws(ModelHostError) {
            _ = try Self.request(body)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.code.rawValue == code)
            #expect(error.message.contains(message), "\(error.message)")
            // Only validation refusals say which input broke which rule.
            #expect((error.validationFailure != nil) == (error.code == .validation))
        }
    }

    @Test("a key that is not a declared input is counted as undeclared, never by the caller's name")
    func undeclaredKey() {
        let error = #expect(throws: ModelHostError.self) { try Self.request(#"{"amount": 1, "tags": ["a", "b"], "caller-chosen": 2}"#) }
        #expect(error?.code == .validation)
        #expect(error?.validationFailure == ModelHostError.ValidationFailure(input: "(undeclared)", rule: .unknownInput))
    }

    @Test("keys are checked in name order, as before")
    func order() {
        // "bogus" sorts before "tags", so its refusal comes first although it comes last.
        do throws(ModelHostError) {
            _ = try Self.request(#"{"tags": [[1], [2, 3]], "bogus": 1}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .validation)
        }
    }
}

@Suite("PredictCodec instances")
struct PredictCodecInstancesTests {
    /// Inputs: `x` FP32 [-1, -1]; optional `note` BYTES [-1] cut at 4 bytes; optional `flag` BOOL
    /// [1], whose first dimension is fixed. At most 4 rows.
    static let manifestText = #"""
        {"manifestVersion": 1, "name": "rows", "version": "1.0.0", "library": "libRows.so", "sha256": "", "abiVersion": 1,
         "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, -1]},
                    {"name": "note", "datatype": "BYTES", "shape": [-1], "required": false,
                     "constraints": {"maxLength": 4, "overLength": "truncate"}},
                    {"name": "flag", "datatype": "BOOL", "shape": [1], "required": false}],
         "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}],
         "limits": {"maxBatch": 4}}
        """#

    static func validator(_ text: String = manifestText) throws -> InputValidator {
        try InputValidator(manifest: Manifest.parse(Data(text.utf8), file: "rows.json"))
    }

    static func body(_ text: String, instances: PredictCodec.Instances = .accepted, manifest: String = manifestText) throws -> PredictCodec.Body {
        try PredictCodec.body(from: ByteBuffer(string: text), manifest: validator(manifest).manifest, instances: instances)
    }

    /// Reads, checks and decodes a batch, throwing what the service would answer.
    static func decode(_ text: String, instances: PredictCodec.Instances = .accepted) throws -> PredictCodec.Batch.Decoded {
        guard case .batch(let batch) = try body(text, instances: instances) else { throw ModelHostError(.internal, "not a batch") }
        return try batch.decode(with: validator())
    }

    /// What a single `/predict` body decodes to.
    static func single(_ text: String) throws -> [Tensor] {
        guard case .single(let request) = try body(text) else { throw ModelHostError(.internal, "a batch") }
        let validator = try validator()
        try validator.checkDeclarations(request.headers)
        return try validator.validateValues(try request.decodeTensors()).tensors
    }

    @Test("a batch joins its instances, each decoded as the same body sent alone")
    func joinsInstances() throws {
        let instances = [#"{"x": [[1, 2]], "note": "a"}"#, #"{"x": [[3, 4], [5, 6]], "note": ["b", "c"]}"#, #"{"note": "d", "x": [7, 8]}"#]
        let decoded = try Self.decode(#"{"instances": [\#(instances.joined(separator: ", "))]}"#)
        #expect(decoded.rows == [1, 2, 1])
        #expect(decoded.tensors.map(\.header) == [
            TensorHeader(name: "note", datatype: .bytes, shape: [4]), TensorHeader(name: "x", datatype: .fp32, shape: [4, 2]),
        ])
        #expect(decoded.tensors == (try TensorBatch.join(instances.map(Self.single))).tensors)
        #expect(decoded.truncations.isEmpty)
        // The v1 route reads the same body the same way.
        #expect(try Self.decode(#"{"instances": [\#(instances.joined(separator: ", "))]}"#, instances: .required).tensors == decoded.tensors)
    }

    @Test("a cut is reported with its instance")
    func truncationsNameTheInstance() throws {
        let decoded = try Self.decode(#"{"instances": [{"x": [1], "note": "ok"}, {"x": [2], "note": "too long"}]}"#)
        #expect(decoded.truncations == ["instances[1].note[0]=8"])
        #expect(decoded.tensors[0] == (try Tensor(name: "note", shape: [2], strings: ["ok", "too "])))
    }

    @Test("one instance may use a fixed first dimension; several cannot be joined along it")
    func fixedFirstDimension() throws {
        #expect(try Self.decode(#"{"instances": [{"x": [1], "flag": true}]}"#).rows == [1])
        let error = #expect(throws: ModelHostError.self) { try Self.decode(#"{"instances": [{"x": [1], "flag": true}, {"x": [2], "flag": false}]}"#) }
        #expect(error?.code == .validation)
        #expect(error?.message == #"instances: input "flag" has a fixed first dimension (shape [1]), so instances cannot be joined along it; send one instance per request"#)
    }

    @Test("a batch is refused as a whole, naming the instance or instances at fault", arguments: [
        (#"{"instances": []}"#, "invalid_request", #""instances": must hold at least one instance"#),
        (#"{"instances": [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}, {"x": 5}]}"#, "validation_failed", #""instances": 5 instances are over the model's limit of 4 (limits.maxBatch)"#),
        (#"{"instances": {"x": 1}}"#, "invalid_request", #""instances": must be an array of instances, not an object"#),
        (#"{"instances": [{"x": 1}], "x": 2}"#, "invalid_request", #"request body: "x" is not allowed next to "instances""#),
        (#"{"instances": [{"x": 1}, 2]}"#, "invalid_request", "instances[1]: must be a JSON object keyed by input name, not a number"),
        (#"{"instances": [{"x": 1}, {"x": 1}, {"bogus": 1}]}"#, "validation_failed", #"instances[2]: "bogus" is not an input of model "rows" (inputs: x, note, flag)"#),
        (#"{"instances": [{"x": [[1], [2, 3]]}]}"#, "invalid_request", #"instances[0]: "x": nested arrays must be rectangular"#),
        (#"{"instances": [{"x": 1}, {"note": "a"}]}"#, "validation_failed", #"instances[1]: input "x": required but missing"#),
        (#"{"instances": [{"x": 1}, {"x": [[1], [2], [3], [4], [5]]}]}"#, "validation_failed", #"instances[1]: input "x": batch of 5 is over the limit of 4"#),
        (#"{"instances": [{"x": 1}, {"x": ["one"]}]}"#, "invalid_request", #"instances[1]: tensor "x": element 0 is a string, FP32 needs a number"#),
        (#"{"instances": [{"x": [[1, 2]]}, {"x": [[1, 2]]}, {"x": [[1, 2, 3]]}]}"#, "invalid_request",
         #"instances[0] and instances[2]: input "x" has shape [1, 2] in the first and [1, 3] in the second; only the first dimension may differ"#),
        (#"{"instances": [{"x": 1, "note": "a"}, {"x": 2}]}"#, "invalid_request", #"instances[0] and instances[1]: input "note" is in the first and not in the second"#),
        (#"{"instances": [{"x": [[1], [2]], "note": "a"}]}"#, "invalid_request",
         #"instances[0]: input "x" has a first dimension of 2 where "note" has 1; a request's tensors must agree on it"#),
        (#"{"instances": [{"x": [[1, 2], [3, 4], [5, 6]]}, {"x": [[7, 8], [9, 10]]}]}"#, "validation_failed", #"instances, joined: input "x": batch of 5 is over the limit of 4"#),
        ("not json", "invalid_request", "request body is not valid JSON"),
    ])
    func refusals(_ body: String, _ code: String, _ message: String) {
        do {
            _ = try Self.decode(body)
            Issue.record("accepted \(body)")
        } catch let error as ModelHostError {
            #expect(error.code.rawValue == code)
            #expect(error.message.contains(message), "\(error.message)")
            #expect((error.validationFailure != nil) == (error.code == .validation))
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("a batch's validation refusal keeps the input and rule of the instance's refusal, or names the batch as a whole", arguments: [
        (#"{"instances": [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}, {"x": 5}]}"#, "(request)", "max_batch"),
        (#"{"instances": [{"x": 1}, {"x": 1}, {"bogus": 1}]}"#, "(undeclared)", "unknown_input"),
        (#"{"instances": [{"x": 1}, {"note": "a"}]}"#, "x", "missing"),
        (#"{"instances": [{"x": 1}, {"x": [[1], [2], [3], [4], [5]]}]}"#, "x", "max_batch"),
        (#"{"instances": [{"x": [[1, 2], [3, 4], [5, 6]]}, {"x": [[7, 8], [9, 10]]}]}"#, "x", "max_batch"),
        (#"{"instances": [{"x": [1], "flag": true}, {"x": [2], "flag": false}]}"#, "flag", "unbatchable"),
    ])
    func validationFailures(_ body: String, _ input: String, _ rule: String) {
        do {
            _ = try Self.decode(body)
            Issue.record("accepted \(body)")
        } catch let error as ModelHostError {
            #expect(error.code == .validation)
            #expect(error.validationFailure?.input == input)
            #expect(error.validationFailure?.rule.rawValue == rule)
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test("the v1 route needs instances; /predict without them is one request")
    func v1NeedsInstances() throws {
        for body in [#"{"x": 1}"#, #"{}"#, "[1]"] {
            let error = #expect(throws: ModelHostError.self) { try Self.body(body, instances: .required) }
            #expect(error?.code == .invalidRequest)
            #expect(error?.message.contains(#""instances""#) == true, "\(error?.message ?? "")")
        }
        guard case .single(let request) = try Self.body(#"{"x": 1}"#) else {
            Issue.record("a batch")
            return
        }
        #expect(request.headers == [TensorHeader(name: "x", datatype: .fp32, shape: [1, 1])])
    }

    @Test("a model with an input named instances keeps it on /predict; the v1 route still reads a batch")
    func anInputNamedInstances() throws {
        let manifest = #"""
            {"manifestVersion": 1, "name": "odd", "version": "1.0.0", "library": "libOdd.so", "sha256": "", "abiVersion": 1,
             "inputs": [{"name": "instances", "datatype": "INT32", "shape": [-1]}],
             "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1]}]}
            """#
        guard case .single(let request) = try Self.body(#"{"instances": [1, 2]}"#, manifest: manifest) else {
            Issue.record("read as a batch")
            return
        }
        #expect(request.headers == [TensorHeader(name: "instances", datatype: .int32, shape: [2])])
        guard case .batch(let batch) = try Self.body(#"{"instances": [{"instances": 1}, {"instances": 2}]}"#, instances: .required, manifest: manifest) else {
            Issue.record("not read as a batch")
            return
        }
        #expect(batch.instances.count == 2)
    }

    @Test("each prediction is written exactly as the single response for its outputs")
    func predictionsAreSingleResponses() throws {
        let first = [try Tensor(name: "y", datatype: .fp32, shape: [1], data: withUnsafeBytes(of: Float(1.5).bitPattern.littleEndian) { Array($0) })]
        let second = [
            try Tensor(name: "y", datatype: .fp32, shape: [2], data: [Float(2), 3].flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }),
        ]
        let singles = try [first, second].map { String(decoding: try PredictCodec.response(outputs: $0, model: "rows", version: "1.0.0"), as: UTF8.self) }
        let batch = String(decoding: try PredictCodec.response(predictions: [first, second], model: "rows", version: "1.0.0"), as: UTF8.self)
        #expect(batch == #"{"predictions":["# + singles.joined(separator: ",") + "]}")
        #expect(singles == [#"{"y":1.5}"#, #"{"y":[2.0,3.0]}"#])
    }
}
