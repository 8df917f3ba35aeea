import ModelHostCore
import ModelManifest
import NIOCore

/// The plain JSON API, `POST /predict/{model}`: a JSON object keyed by input name in, a JSON
/// object keyed by output name out, for callers who do not speak tensors.
///
/// An input's value is a scalar or a (nested) array; its datatype comes from the manifest, its
/// shape from the nesting, with leading dimensions of 1 added up to the declared rank (a scalar
/// for a `[-1]` input is a batch of one). An output with a single element is written bare.
enum PredictCodec {
    /// Decodes a body into input tensors shaped for `manifest`.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` naming the key.
    static func inputs(from body: ByteBuffer, manifest: Manifest) throws(ModelHostError) -> [Tensor] {
        let document: JSONValue
        do {
            document = try JSONValueParser.parse(body.readableBytesView)
        } catch {
            throw ModelHostError(.invalidRequest, "request body is not valid JSON: \(error)")
        }
        guard case .object(let object) = document else {
            throw ModelHostError(.invalidRequest, "request body: must be a JSON object keyed by input name")
        }
        var tensors: [Tensor] = []
        for key in object.keys.sorted() {
            guard let spec = manifest.input(named: key) else {
                let declared = manifest.inputs.map(\.name).joined(separator: ", ")
                throw ModelHostError(.validation, "\"\(key)\" is not an input of model \"\(manifest.name)\" (inputs: \(declared))")
            }
            let value = object[key]!
            // A scalar is one element; nested arrays give their shape.
            guard var shape = value.arrayShape.map({ $0.isEmpty ? [1] : $0 }) else {
                throw ModelHostError(.invalidRequest, "\"\(key)\": nested arrays must be rectangular")
            }
            while shape.count < spec.shape.count { shape.insert(1, at: 0) }
            do {
                tensors.append(try Tensor(name: key, datatype: spec.datatype, shape: shape, json: value))
            } catch {
                throw ModelHostError(.invalidRequest, error.description)
            }
        }
        return tensors
    }

    /// Writes outputs as `{"name": value, ...}`.
    static func response(outputs: [Tensor], model: String, version: String) throws(ModelHostError) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + outputs.reduce(0) { $0 + $1.data.count * 3 })
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
        return writer.bytes
    }
}
