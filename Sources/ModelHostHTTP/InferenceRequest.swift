import ModelHostCore
import NIOCore

/// An Open Inference Protocol inference request, decoded in two steps: its skeleton — the id,
/// parameters, outputs, and each input's name, datatype and shape — when it is made, and the
/// inputs' data by ``decodeTensors()``.
///
/// Between the two, the caller checks ``headers`` against the model's manifest
/// (`InputValidator.checkDeclarations`), so a request refused for its names, datatypes, shapes or
/// batch size is refused before its data costs anything to decode. The skeleton step still reads
/// every byte of the JSON: malformed text anywhere, or data whose size does not fit its shape, is
/// refused there.
struct InferenceRequest: Sendable {
    /// Where one input's data is.
    enum DataSource: Sendable {
        /// JSON `data`, measured in the JSON part of the body.
        case json(JSONScanner.SkippedValue)
        /// Raw bytes from the binary part of the body.
        case binary(ByteBuffer)
    }

    /// One input, ready to decode.
    struct Input: Sendable {
        var header: TensorHeader
        var source: DataSource
        /// Where it is in the request, for messages: `inputs[2]`.
        var path: String
    }

    /// The caller's request id, echoed in the response.
    var id: String?
    /// The inputs, in request order.
    private(set) var inputs: [Input] = []
    /// The outputs the caller asked for, or `nil` for all of them.
    var requestedOutputs: [String]?
    /// The outputs to return as raw bytes after the JSON (the binary tensor extension).
    var binaryOutputs: Set<String> = []
    /// Whether every output not named in `outputs` is returned as raw bytes
    /// (`"parameters": {"binary_data_output": true}`).
    var isBinaryOutputDefault = false
    /// How long the caller allows for the request, in milliseconds
    /// (`"parameters": {"timeout": 250}`), or `nil` when it sets no limit.
    var timeoutMilliseconds: Int?
    /// The JSON part of the body, which ``DataSource/json(_:)`` measures point into.
    private let json: ByteBuffer

    /// The header that splits a body into JSON and binary tensor data: the JSON's length in bytes.
    static let headerLengthField = "Inference-Header-Content-Length"

    /// What each input declares, in request order.
    var headers: [TensorHeader] { inputs.map(\.header) }

    /// Decodes a request body's skeleton; the inputs' data waits for ``decodeTensors()``.
    ///
    /// Unknown keys are ignored (clients may send protocol extensions).
    ///
    /// - Parameters:
    ///   - body: The whole body.
    ///   - jsonLength: The `Inference-Header-Content-Length` value, when the body carries binary
    ///     tensor data after its JSON; inputs with a `binary_data_size` parameter take their bytes
    ///     from there, in order.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/invalidRequest`` naming what
    ///   is malformed and where.
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
        json = body
        let skeleton = try Self.scanSkeleton(body)
        guard skeleton.isObject else {
            throw ModelHostError(.invalidRequest, "request body must be a JSON object")
        }
        switch skeleton.id {
        case .absent, .scalar(.null): id = nil
        case .scalar(.string(let text)): id = text
        case let other: throw Self.wrongType("id", "a string", other)
        }
        guard case .array(let scannedInputs) = skeleton.inputs else {
            if case .other(let field) = skeleton.inputs { throw Self.wrongType("inputs", "an array", field) }
            throw ModelHostError(.invalidRequest, "request body: \"inputs\" is required")
        }
        guard !scannedInputs.isEmpty else {
            throw ModelHostError(.invalidRequest, "request body: \"inputs\" must hold at least one tensor")
        }
        var names: Set<String> = []
        inputs.reserveCapacity(scannedInputs.count)
        for (index, scanned) in scannedInputs.enumerated() {
            let input = try Self.input(scanned, path: "inputs[\(index)]", binary: &binary)
            guard names.insert(input.header.name).inserted else {
                throw ModelHostError(.invalidRequest, "inputs[\(index)]: \"\(input.header.name)\" is given twice")
            }
            inputs.append(input)
        }
        if let binary, binary.readableBytes > 0 {
            throw ModelHostError(.invalidRequest, "\(binary.readableBytes) bytes of binary data follow the last input that uses any")
        }
        if case .scalar(.bool(let isBinary)) = skeleton.binaryDataOutput {
            isBinaryOutputDefault = isBinary
        }
        switch skeleton.timeout {
        case .absent: timeoutMilliseconds = nil
        case .scalar(.integer(let milliseconds)) where milliseconds > 0: timeoutMilliseconds = Int(milliseconds)
        case let other:
            throw ModelHostError(
                .invalidRequest, "request body: \"parameters.timeout\" must be a positive integer number of milliseconds, not \(Self.describe(other))"
            )
        }
        switch skeleton.outputs {
        case .absent:
            requestedOutputs = nil
        case .array(let scannedOutputs):
            var names: [String] = []
            for (index, scanned) in scannedOutputs.enumerated() {
                guard case .named(let name, let binaryData) = scanned else {
                    throw ModelHostError(.invalidRequest, "outputs[\(index)]: must be an object with a string \"name\"")
                }
                names.append(name)
                if case .scalar(.bool(true)) = binaryData {
                    binaryOutputs.insert(name)
                } else if case .absent = binaryData, isBinaryOutputDefault {
                    binaryOutputs.insert(name)
                }
            }
            requestedOutputs = names
        case .other(let field):
            throw Self.wrongType("outputs", "an array", field)
        }
    }

    /// Decodes every input's data into a tensor. Call it after ``headers`` passed the manifest's
    /// checks.
    ///
    /// - Returns: The tensors, in request order.
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/invalidRequest`` naming the
    ///   input and the element that does not fit its datatype.
    func decodeTensors() throws(ModelHostError) -> [Tensor] {
        // `withUnsafeReadableBytes` only rethrows untyped errors, hence the `Result`.
        let outcome = json.withUnsafeReadableBytes { document -> Result<[Tensor], ModelHostError> in
            var tensors: [Tensor] = []
            tensors.reserveCapacity(inputs.count)
            for input in inputs {
                do throws(TensorLayoutError) {
                    switch input.source {
                    case .json(let data):
                        tensors.append(try TensorJSONDecoder.decode(data, in: document, as: input.header))
                    case .binary(let bytes):
                        let header = input.header
                        tensors.append(try Tensor(name: header.name, datatype: header.datatype, shape: header.shape, data: Array(bytes.readableBytesView)))
                    }
                } catch {
                    return .failure(ModelHostError(.invalidRequest, "\(input.path) \(error)"))
                }
            }
            return .success(tensors)
        }
        return try outcome.get()
    }

    /// Whether the output named `name` goes back as raw bytes.
    func isBinary(_ name: String) -> Bool {
        binaryOutputs.contains(name) || (requestedOutputs == nil && isBinaryOutputDefault)
    }

    /// Checks one scanned input's members and finds its data, checking that the data's size
    /// fits the shape.
    private static func input(_ scanned: ScannedInputElement, path: String, binary: inout ByteBuffer?) throws(ModelHostError) -> Input {
        let fields: ScannedInput
        switch scanned {
        case .object(let members): fields = members
        case .other(let kind): throw wrongType(path, "an object", .skipped(kind))
        }
        guard case .scalar(.string(let name)) = fields.name else {
            throw ModelHostError(.invalidRequest, "\(path).name is required and must be a string")
        }
        guard case .scalar(.string(let spelling)) = fields.datatype else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": datatype is required and must be a string")
        }
        guard let datatype = Datatype(rawValue: spelling) else {
            let allowed = Datatype.allCases.map(\.rawValue).joined(separator: ", ")
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": datatype \"\(spelling)\" is not supported (one of \(allowed))")
        }
        let shape: [Int]
        switch fields.shape {
        case .missing:
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": shape is required and must be an array of integers")
        case .invalid:
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": shape must hold integers from 0 to \(Int32.max)")
        case .dimensions(let dimensions):
            shape = dimensions
        }
        let header = TensorHeader(name: name, datatype: datatype, shape: shape)
        if case .absent = fields.binaryDataSize {
            guard let data = fields.data else {
                throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": data is required")
            }
            do {
                try TensorJSONDecoder.checkLayout(data, for: header)
            } catch {
                throw ModelHostError(.invalidRequest, "\(path) \(error)")
            }
            return Input(header: header, source: .json(data), path: path)
        }
        guard case .scalar(.integer(let count)) = fields.binaryDataSize, count >= 0 else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": binary_data_size must be a non-negative integer")
        }
        guard var rest = binary, let bytes = rest.readSlice(length: Int(count)) else {
            throw ModelHostError(.invalidRequest, "\(path) \"\(name)\": binary_data_size \(count) runs past the binary data (send \(headerLengthField))")
        }
        binary = rest
        do {
            try header.checkByteCount(bytes.readableBytes)
        } catch {
            throw ModelHostError(.invalidRequest, "\(path) \(error)")
        }
        return Input(header: header, source: .binary(bytes), path: path)
    }

    private static func wrongType(_ path: String, _ expected: String, _ field: Field) -> ModelHostError {
        ModelHostError(.invalidRequest, "request body: \"\(path)\" must be \(expected), not \(field.kindDescription)")
    }

    /// A refused parameter's value, for messages: a number as written, otherwise its type.
    private static func describe(_ field: Field) -> String {
        switch field {
        case .scalar(let number) where number.doubleValue != nil: number.jsonText
        default: field.kindDescription
        }
    }
}
