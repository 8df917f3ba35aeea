import ModelHostCore

/// Writes Open Inference Protocol responses: the inference result and model metadata.
enum InferenceResponseWriter {
    /// `{"model_name", "model_version", "id", "outputs": [...]}`.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/pluginError`` when an output cannot
    ///   be written as JSON (a non-finite number, invalid UTF-8).
    ///
    /// `truncatedInputs`, when given, is reported as the response parameter `truncated_inputs`.
    static func inferenceResponse(model: String, version: String, id: String?, outputs: [Tensor], truncatedInputs: String? = nil) throws(ModelHostError) -> [UInt8] {
        var writer = JSONWriter(capacity: 128 + outputs.reduce(0) { $0 + $1.data.count * 3 })
        writer.raw("{")
        writer.key("model_name")
        writer.string(model)
        writer.raw(",")
        writer.key("model_version")
        writer.string(version)
        if let id {
            writer.raw(",")
            writer.key("id")
            writer.string(id)
        }
        if let truncatedInputs {
            writer.raw(",")
            writer.key("parameters")
            writer.raw("{")
            writer.key("truncated_inputs")
            writer.string(truncatedInputs)
            writer.raw("}")
        }
        writer.raw(",")
        writer.key("outputs")
        writer.raw("[")
        for (index, output) in outputs.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.raw("{")
            writer.key("name")
            writer.string(output.name)
            writer.raw(",")
            writer.key("datatype")
            writer.string(output.datatype.rawValue)
            writer.raw(",")
            writer.key("shape")
            writeShape(output.shape, to: &writer)
            writer.raw(",")
            writer.key("data")
            do {
                try output.writeJSONData(to: &writer)
            } catch {
                throw ModelHostError(.pluginError, "model \"\(model)\" returned an output JSON cannot carry: \(error)", modelVersion: version)
            }
            writer.raw("}")
        }
        writer.raw("]}")
        return writer.bytes
    }

    /// Writes `[d0, d1, ...]`.
    static func writeShape(_ shape: [Int], to writer: inout JSONWriter) {
        writer.raw("[")
        for (index, dimension) in shape.enumerated() {
            if index > 0 { writer.raw(",") }
            writer.number(dimension)
        }
        writer.raw("]")
    }
}
