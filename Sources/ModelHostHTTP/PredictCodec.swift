import ModelHostCore
import ModelManifest
import NIOCore

/// The plain JSON API, `POST /predict/{model}`: a JSON object keyed by input name in, a JSON
/// object keyed by output name out, for callers who do not speak tensors.
///
/// An input's value is a scalar or a (nested) array; its datatype comes from the manifest, its
/// shape from the nesting, with leading dimensions of 1 added up to the declared rank (a scalar
/// for a `[-1]` input is a batch of one). An output with a single element is written bare.
///
/// A body `{"instances": [...]}` is a batch of such objects, answered `{"predictions": [...]}`;
/// `PredictCodec+Instances.swift` reads and writes it.
enum PredictCodec {
    /// A body read up to its data: each input's name, datatype and shape, and where its data is.
    struct Request: Sendable {
        /// One input, ready to decode.
        struct Input: Sendable {
            var header: TensorHeader
            /// The value's measure; its range is in ``Request/body``.
            var data: JSONScanner.SkippedValue
        }

        /// The body, which the measures point into.
        let body: ByteBuffer
        /// The inputs, in the order of their names.
        let inputs: [Input]

        /// What each input declares, in the order of their names.
        var headers: [TensorHeader] { inputs.map(\.header) }

        /// Decodes every input's data into a tensor. Call it after ``headers`` passed the
        /// manifest's checks.
        ///
        /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` naming the key
        ///   and the element that does not fit its datatype.
        func decodeTensors() throws(ModelHostError) -> [Tensor] {
            // `withUnsafeReadableBytes` only rethrows untyped errors, hence the `Result`.
            let outcome = body.withUnsafeReadableBytes { document -> Result<[Tensor], ModelHostError> in
                var tensors: [Tensor] = []
                tensors.reserveCapacity(inputs.count)
                for input in inputs {
                    do throws(TensorLayoutError) {
                        tensors.append(try TensorJSONDecoder.decode(input.data, in: document, as: input.header))
                    } catch {
                        return .failure(ModelHostError(.invalidRequest, error.description))
                    }
                }
                return .success(tensors)
            }
            return try outcome.get()
        }
    }

    /// Reads a body up to its data, giving each input the datatype `manifest` declares and the
    /// shape of its nesting.
    ///
    /// Every byte is checked, and data whose nesting is ragged or does not fit its shape is
    /// refused; the elements wait for ``Request/decodeTensors()``. A key `instances` is an input
    /// like any other here: ``body(from:manifest:instances:)`` reads batches.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` naming the key, or
    ///   ``ModelHostError/Code/validation`` for a key that is not a declared input (failure
    ///   ``ModelHostError/ValidationFailure/Rule/unknownInput`` of ``ModelHostError/ValidationFailure/undeclaredInput``).
    static func request(from body: ByteBuffer, manifest: Manifest) throws(ModelHostError) -> Request {
        let scanned = try scan(body, readsInstances: false, keepingAtMost: 0)
        guard scanned.isObject else {
            throw ModelHostError(.invalidRequest, "request body: must be a JSON object keyed by input name")
        }
        return Request(body: body, inputs: try inputs(from: scanned.members, manifest: manifest))
    }

    /// One input's key and the measure of its value, as the body gives them.
    typealias Member = (key: String, data: JSONScanner.SkippedValue)

    /// The inputs of one object keyed by input name, in the order of their names.
    static func inputs(from members: [Member], manifest: Manifest) throws(ModelHostError) -> [Request.Input] {
        var inputs: [Request.Input] = []
        inputs.reserveCapacity(members.count)
        for (key, data) in members.sorted(by: { $0.key < $1.key }) {
            guard let spec = manifest.input(named: key) else {
                let declared = manifest.inputs.map(\.name).joined(separator: ", ")
                throw ModelHostError(
                    .validation, "\"\(key)\" is not an input of model \"\(manifest.name)\" (inputs: \(declared))",
                    validationFailure: .init(input: ModelHostError.ValidationFailure.undeclaredInput, rule: .unknownInput)
                )
            }
            // A scalar is one element; nested arrays give their shape.
            guard var shape = data.arrayShape.map({ $0.isEmpty ? [1] : $0 }) else {
                throw ModelHostError(.invalidRequest, "\"\(key)\": nested arrays must be rectangular")
            }
            while shape.count < spec.shape.count { shape.insert(1, at: 0) }
            let header = TensorHeader(name: key, datatype: spec.datatype, shape: shape)
            do {
                try TensorJSONDecoder.checkLayout(data, for: header)
            } catch {
                throw ModelHostError(.invalidRequest, error.description)
            }
            inputs.append(Request.Input(header: header, data: data))
        }
        return inputs
    }

    /// Writes outputs as `{"name": value, ...}`.
    static func response(outputs: [Tensor], model: String, version: String) throws(ModelHostError) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + outputs.reduce(0) { $0 + $1.data.count * 3 })
        try write(outputs, to: &writer, model: model, version: version)
        return writer.bytes
    }

    /// Writes one request's outputs as the object `{"name": value, ...}`.
    static func write(_ outputs: [Tensor], to writer: inout JSONWriter, model: String, version: String) throws(ModelHostError) {
        writer.beginObject()
        for output in outputs {
            writer.key(output.name)
            do {
                try output.writeJSONData(to: &writer, unwrapsSingleElement: true)
            } catch {
                throw ModelHostError(.pluginError, "model \"\(model)\" returned an output JSON cannot carry: \(error)", modelVersion: version)
            }
        }
        writer.endObject()
    }
}
