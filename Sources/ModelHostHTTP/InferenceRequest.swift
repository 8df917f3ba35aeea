import ModelHostCore
import NIOCore

/// An Open Inference Protocol inference request, decoded into tensors.
struct InferenceRequest: Sendable {
    /// The caller's request id, echoed in the response.
    var id: String?
    /// The input tensors.
    var inputs: [Tensor]
    /// The outputs the caller asked for, or `nil` for all of them.
    var requestedOutputs: [String]?
    /// The outputs to return as raw bytes after the JSON (the binary tensor extension).
    var binaryOutputs: Set<String> = []
    /// Whether every output not named in `outputs` is returned as raw bytes
    /// (`"parameters": {"binary_data_output": true}`).
    var isBinaryOutputDefault = false

    /// The header that splits a body into JSON and binary tensor data: the JSON's length in bytes.
    static let headerLengthField = "Inference-Header-Content-Length"

    /// Decodes a request body.
    ///
    /// Unknown keys are ignored (clients may send protocol extensions such as `parameters`).
    ///
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/invalidRequest`` naming what
    ///   is malformed and where.
    ///
    /// - Parameters:
    ///   - body: The whole body.
    ///   - jsonLength: The `Inference-Header-Content-Length` value, when the body carries binary
    ///     tensor data after its JSON; inputs with a `binary_data_size` parameter take their bytes
    ///     from there, in order.
    init(body: ByteBuffer, jsonLength: Int? = nil) throws(ModelHostError) {
        var body = body
        var binary: ByteBuffer?
        if let jsonLength {
            guard jsonLength >= 0, jsonLength <= body.readableBytes, let json = body.readSlice(length: jsonLength) else {
                throw ModelHostError(.invalidRequest, "\(Self.headerLengthField) is \(jsonLength), the body has \(body.readableBytes) bytes")
            }
            binary = body
            body = json
        }
        let document: JSONValue
        do {
            document = try JSONValueParser.parse(body.readableBytesView)
        } catch {
            throw ModelHostError(.invalidRequest, "request body is not valid JSON: \(error)")
        }
        guard case .object(let members) = document else {
            throw ModelHostError(.invalidRequest, "request body must be a JSON object")
        }
        switch members["id"] {
        case nil, .null: id = nil
        case .string(let text): id = text
        case let other?: throw Self.wrongType("id", "a string", other)
        }
        guard case .array(let rawInputs)? = members["inputs"] else {
            throw members["inputs"].map { Self.wrongType("inputs", "an array", $0) }
                ?? ModelHostError(.invalidRequest, "request body: \"inputs\" is required")
        }
        guard !rawInputs.isEmpty else {
            throw ModelHostError(.invalidRequest, "request body: \"inputs\" must hold at least one tensor")
        }
        var names: Set<String> = []
        var tensors: [Tensor] = []
        tensors.reserveCapacity(rawInputs.count)
        for (index, rawInput) in rawInputs.enumerated() {
            let tensor = try Self.tensor(rawInput, path: "inputs[\(index)]", binary: &binary)
            guard names.insert(tensor.name).inserted else {
                throw ModelHostError(.invalidRequest, "inputs[\(index)]: \"\(tensor.name)\" is given twice")
            }
            tensors.append(tensor)
        }
        if let binary, binary.readableBytes > 0 {
            throw ModelHostError(.invalidRequest, "\(binary.readableBytes) bytes of binary data follow the last input that uses any")
        }
        inputs = tensors
        if case .object(let parameters)? = members["parameters"], case .bool(let isBinary)? = parameters["binary_data_output"] {
            isBinaryOutputDefault = isBinary
        }
        switch members["outputs"] {
        case nil, .null:
            requestedOutputs = nil
        case .array(let rawOutputs):
            var names: [String] = []
            for (index, rawOutput) in rawOutputs.enumerated() {
                guard case .object(let output) = rawOutput, case .string(let name)? = output["name"] else {
                    throw ModelHostError(.invalidRequest, "outputs[\(index)]: must be an object with a string \"name\"")
                }
                names.append(name)
                let parameters: [String: JSONValue]
                if case .object(let fields)? = output["parameters"] { parameters = fields } else { parameters = [:] }
                if case .bool(true)? = parameters["binary_data"] {
                    binaryOutputs.insert(name)
                } else if parameters["binary_data"] == nil, isBinaryOutputDefault {
                    binaryOutputs.insert(name)
                }
            }
            requestedOutputs = names
        case let other?:
            throw Self.wrongType("outputs", "an array", other)
        }
    }

    /// Whether the output named `name` goes back as raw bytes.
    func isBinary(_ name: String) -> Bool {
        binaryOutputs.contains(name) || (requestedOutputs == nil && isBinaryOutputDefault)
    }

    private static func tensor(_ value: JSONValue, path: String, binary: inout ByteBuffer?) throws(ModelHostError) -> Tensor {
        guard case .object(let fields) = value else { throw wrongType(path, "an object", value) }
        guard case .string(let name)? = fields["name"] else {
            throw ModelHostError(.invalidRequest, "\(path).name is required and must be a string")
        }
        guard case .string(let spelling)? = fields["datatype"] else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": datatype is required and must be a string")
        }
        guard let datatype = Datatype(rawValue: spelling) else {
            let allowed = Datatype.allCases.map(\.rawValue).joined(separator: ", ")
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": datatype \"\(spelling)\" is not supported (one of \(allowed))")
        }
        guard case .array(let dimensions)? = fields["shape"] else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": shape is required and must be an array of integers")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dimensions.count)
        for dimension in dimensions {
            guard case .integer(let size) = dimension, size >= 0, size <= Int64(Int32.max) else {
                throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": shape must hold integers from 0 to \(Int32.max)")
            }
            shape.append(Int(size))
        }
        if case .object(let parameters)? = fields["parameters"], let size = parameters["binary_data_size"] {
            guard case .integer(let count) = size, count >= 0 else {
                throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": binary_data_size must be a non-negative integer")
            }
            guard var data = binary, let bytes = data.readBytes(length: Int(count)) else {
                throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": binary_data_size \(count) runs past the binary data (send \(headerLengthField))")
            }
            binary = data
            do {
                return try Tensor(name: name, datatype: datatype, shape: shape, data: bytes)
            } catch {
                throw ModelHostError(.invalidRequest, "\(path) \(error)")
            }
        }
        guard let data = fields["data"] else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": data is required")
        }
        do {
            return try Tensor(name: name, datatype: datatype, shape: shape, json: data)
        } catch {
            throw ModelHostError(.invalidRequest, "\(path) \(error)")
        }
    }

    private static func wrongType(_ path: String, _ expected: String, _ value: JSONValue) -> ModelHostError {
        ModelHostError(.invalidRequest, "request body: \"\(path)\" must be \(expected), not \(value.kindDescription)")
    }
}
