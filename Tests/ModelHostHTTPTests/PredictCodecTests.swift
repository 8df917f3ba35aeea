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
        }
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
