import ModelHostCore

/// Writes Open Inference Protocol responses: the inference result and model metadata.
enum InferenceResponseWriter {
    /// A response body: JSON, possibly followed by binary tensor data.
    struct Body {
        /// The whole body.
        var bytes: [UInt8]
        /// The length of the JSON part when binary data follows it, for `Inference-Header-Content-Length`.
        var jsonLength: Int?
    }

    /// `{"model_name", "model_version", "id", "outputs": [...]}`.
    ///
    /// `truncatedInputs`, when given, is reported as the response parameter `truncated_inputs`.
    /// Outputs for which `isBinary` is true are sent as raw bytes after the JSON, described by a
    /// `binary_data_size` parameter (the protocol's binary tensor data extension).
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/pluginError`` when an output cannot
    ///   be written as JSON (a non-finite number, invalid UTF-8).
    static func inferenceResponse(
        model: String, version: String, id: String?, outputs: [Tensor], truncatedInputs: String? = nil,
        isBinary: (String) -> Bool = { _ in false }
    ) throws(ModelHostError) -> Body {
        var writer = JSONWriter(capacity: 128 + outputs.reduce(0) { $0 + $1.data.count * 3 })
        var binary: [UInt8] = []
        writer.beginObject()
        writer.key("model_name")
        writer.string(model)
        writer.key("model_version")
        writer.string(version)
        if let id {
            writer.key("id")
            writer.string(id)
        }
        if let truncatedInputs {
            writer.key("parameters")
            writer.beginObject()
            writer.key("truncated_inputs")
            writer.string(truncatedInputs)
            writer.endObject()
        }
        writer.key("outputs")
        writer.beginArray()
        for output in outputs {
            writer.beginObject()
            writeSpec(name: output.name, datatype: output.datatype, shape: output.shape, to: &writer)
            if isBinary(output.name) {
                writer.key("parameters")
                writer.beginObject()
                writer.key("binary_data_size")
                writer.number(output.data.count)
                writer.endObject()
                binary.append(contentsOf: output.data)
            } else {
                writer.key("data")
                do {
                    try output.writeJSONData(to: &writer)
                } catch {
                    throw ModelHostError(.pluginError, "model \"\(model)\" returned an output JSON cannot carry: \(error)", modelVersion: version)
                }
            }
            writer.endObject()
        }
        writer.endArray()
        writer.endObject()
        guard outputs.contains(where: { isBinary($0.name) }) else { return Body(bytes: writer.bytes, jsonLength: nil) }
        return Body(bytes: writer.bytes + binary, jsonLength: writer.bytes.count)
    }

    /// Writes the `name`, `datatype` and `shape` members every tensor description has.
    static func writeSpec(name: String, datatype: Datatype, shape: [Int], to writer: inout JSONWriter) {
        writer.key("name")
        writer.string(name)
        writer.key("datatype")
        writer.string(datatype.rawValue)
        writer.key("shape")
        writer.beginArray()
        for dimension in shape { writer.number(dimension) }
        writer.endArray()
    }
}
