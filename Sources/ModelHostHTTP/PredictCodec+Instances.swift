import ModelHostCore
import ModelManifest
import NIOCore

/// Batches from callers, the KServe v1 and TensorFlow Serving convention: `{"instances": [{...},
/// {...}]}` in, `{"predictions": [{...}, {...}]}` out, each instance a `/predict` body and each
/// prediction the object `/predict` would answer for it.
///
/// The instances are checked one by one as single requests are, then joined along the first
/// dimension (``TensorBatch``) into one call of the plugin, whose outputs are split back into one
/// prediction per instance.
extension PredictCodec {
    /// The key of a body's instances.
    static let instancesKey = "instances"

    /// Whether a body may, or must, be a batch of instances.
    enum Instances: Sendable, Equatable {
        /// `POST /predict/{m}`: a body with the key `instances` is a batch, unless the model has an
        /// input of that name; any other body is one request.
        case accepted
        /// `POST /v1/models/{m}:predict`: the body must be `{"instances": [...]}`.
        case required
    }

    /// A `/predict` body read up to its data: one request, or a batch of instances.
    enum Body: Sendable {
        /// An object keyed by input name.
        case single(Request)
        /// `{"instances": [...]}`.
        case batch(Batch)
    }

    /// A batch read up to its data: each instance a ``Request`` over the same body.
    struct Batch: Sendable {
        /// A batch decoded for one plugin call.
        struct Decoded: Sendable {
            /// Each input's tensors of every instance, joined in instance order.
            var tensors: [Tensor]
            /// Each instance's rows (first dimension), to split the outputs by.
            var rows: [Int]
            /// Each input element cut to its `maxLength`, as `instances[2].query[0]=700`.
            var truncations: [String]
        }

        /// The instances, in the body's order.
        let instances: [Request]

        /// Checks and decodes every instance, then joins them.
        ///
        /// Each instance is checked as a single request is: its declarations (names, datatypes,
        /// shapes, batch limit) before any data is decoded, then its values. Between the two, the
        /// instances must join: the same inputs, each with the same dimensions after the first;
        /// inputs whose first dimension the manifest fixes cannot be joined; and the joined batch
        /// must itself pass the declarations, so its total rows are within `limits.maxBatch`.
        ///
        /// - Parameter validator: The model version's validator.
        /// - Returns: The joined tensors, each instance's rows and the truncations made.
        /// - Throws: ``ModelHostError`` with the single request's code, message and validation
        ///   failure, the message after `instances[i]: `; ``ModelHostError/Code/validation`` with
        ///   ``ModelHostError/ValidationFailure/Rule/unbatchable`` for an input whose first dimension
        ///   is fixed; ``ModelHostError/Code/invalidRequest`` naming two instances that do not join.
        func decode(with validator: InputValidator) throws(ModelHostError) -> Decoded {
            for (index, instance) in instances.enumerated() {
                do {
                    try validator.checkDeclarations(instance.headers)
                } catch {
                    throw error.at("instances[\(index)]")
                }
            }
            let joined: [TensorHeader]
            do {
                joined = try TensorBatch.join(headers: instances.map(\.headers)).headers
            } catch {
                throw Self.refusal(error)
            }
            if instances.count > 1 {
                for header in joined {
                    guard let spec = validator.manifest.input(named: header.name), spec.shape.first != -1 else { continue }
                    throw ModelHostError(
                        .validation,
                        "instances: input \"\(header.name)\" has a fixed first dimension (shape \(spec.shape)), so instances cannot be joined along it; send one instance per request",
                        validationFailure: .init(input: spec.name, rule: .unbatchable)
                    )
                }
            }
            do {
                try validator.checkDeclarations(joined)
            } catch {
                throw error.at("instances, joined")
            }
            var validated: [[Tensor]] = []
            validated.reserveCapacity(instances.count)
            var truncations: [String] = []
            for (index, instance) in instances.enumerated() {
                do {
                    let values = try validator.validateValues(try instance.decodeTensors())
                    validated.append(values.tensors)
                    for cut in values.truncations {
                        truncations.append("instances[\(index)].\(cut.input)[\(cut.element)]=\(cut.originalLength)")
                    }
                } catch {
                    throw error.at("instances[\(index)]")
                }
            }
            do {
                let (tensors, rows) = try TensorBatch.join(validated)
                return Decoded(tensors: tensors, rows: rows, truncations: truncations)
            } catch {
                throw Self.refusal(error)
            }
        }

        /// A join refusal in the caller's terms: `instances[0] and instances[3]: input "x" ...`.
        private static func refusal(_ error: TensorBatchError) -> ModelHostError {
            let place = error.requests.isEmpty ? "instances" : error.requests.map { "instances[\($0)]" }.joined(separator: " and ")
            let subject = error.tensor.map { "input \"\($0)\" \(error.reason)" } ?? error.reason
            return ModelHostError(.invalidRequest, "\(place): \(subject)")
        }
    }

    /// Reads a `/predict` body up to its data: one request, or with `instances`, a batch.
    ///
    /// A batch is refused as a whole: for its own shape (`instances` not an array, empty, or more
    /// instances than the model's `limits.maxBatch`, or another key next to it), or for an
    /// instance that a single request would be refused for, with the instance's index.
    ///
    /// - Parameters:
    ///   - body: The request body.
    ///   - manifest: The model version's manifest.
    ///   - instances: Whether the body may, or must, be a batch.
    /// - Returns: The request or the batch, to check and decode.
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` for a malformed
    ///   body, or ``ModelHostError/Code/validation`` for a key that is not a declared input or a
    ///   batch over the limit (failure ``ModelHostError/ValidationFailure/Rule/maxBatch`` of
    ///   ``ModelHostError/ValidationFailure/wholeRequest``).
    static func body(from body: ByteBuffer, manifest: Manifest, instances mode: Instances) throws(ModelHostError) -> Body {
        let limit = manifest.limits.maxBatch
        let scanned = try scan(body, readsInstances: mode == .required || manifest.input(named: instancesKey) == nil, keepingAtMost: limit)
        let shape = #"{"instances": [{...}, ...]}, each instance a JSON object keyed by input name"#
        guard scanned.isObject else {
            throw ModelHostError(.invalidRequest, mode == .required ? "request body: must be \(shape)" : "request body: must be a JSON object keyed by input name")
        }
        guard let instances = scanned.instances else {
            guard mode == .accepted else {
                throw ModelHostError(.invalidRequest, "request body: \"\(instancesKey)\" is required: \(shape)")
            }
            return .single(Request(body: body, inputs: try inputs(from: scanned.members, manifest: manifest)))
        }
        if let other = scanned.members.first {
            throw ModelHostError(.invalidRequest, "request body: \"\(other.key)\" is not allowed next to \"\(instancesKey)\"")
        }
        guard instances.kind == .array else {
            throw ModelHostError(.invalidRequest, "\"\(instancesKey)\": must be an array of instances, not \(instances.kind)")
        }
        guard instances.count > 0 else {
            throw ModelHostError(.invalidRequest, "\"\(instancesKey)\": must hold at least one instance")
        }
        guard instances.count <= limit else {
            throw ModelHostError(
                .validation, "\"\(instancesKey)\": \(instances.count) instances are over the model's limit of \(limit) (limits.maxBatch)",
                validationFailure: .init(input: ModelHostError.ValidationFailure.wholeRequest, rule: .maxBatch)
            )
        }
        var requests: [Request] = []
        requests.reserveCapacity(instances.kept.count)
        for (index, instance) in instances.kept.enumerated() {
            guard instance.kind == .object else {
                throw ModelHostError(.invalidRequest, "instances[\(index)]: must be a JSON object keyed by input name, not \(instance.kind)")
            }
            do {
                requests.append(Request(body: body, inputs: try inputs(from: instance.members, manifest: manifest)))
            } catch {
                throw error.at("instances[\(index)]")
            }
        }
        return .batch(Batch(instances: requests))
    }

    /// Writes one prediction per instance, each as ``response(outputs:model:version:)`` writes a
    /// single request's outputs: `{"predictions": [{"name": value, ...}, ...]}`.
    static func response(predictions: [[Tensor]], model: String, version: String) throws(ModelHostError) -> [UInt8] {
        let size = predictions.reduce(0) { total, outputs in outputs.reduce(total + 8) { $0 + $1.data.count * 3 } }
        var writer = JSONWriter(capacity: 32 + size)
        writer.beginObject()
        writer.key("predictions")
        writer.beginArray()
        for outputs in predictions {
            try write(outputs, to: &writer, model: model, version: version)
        }
        writer.endArray()
        writer.endObject()
        return writer.bytes
    }

    // MARK: Scanning

    /// What a body's scan found: its members and, if it has them, its instances.
    struct Scanned {
        /// Whether the body is an object; nothing else is kept when it is not.
        var isObject = false
        /// The members other than `instances`, in the body's order.
        var members: [Member] = []
        /// The `instances` member, when instances are read and the body has it.
        var instances: ScannedInstances?
    }

    /// The `instances` value.
    struct ScannedInstances {
        /// The value's type; only an array holds instances.
        var kind: JSONScanner.ValueKind
        /// How many elements the array has.
        var count = 0
        /// The elements up to the limit; past it the batch is refused, so they are only counted.
        var kept: [ScannedInstance] = []
    }

    /// One element of `instances`.
    struct ScannedInstance {
        /// The element's type; only an object is an instance.
        var kind: JSONScanner.ValueKind
        /// An object's members, in the body's order.
        var members: [Member] = []
    }

    /// Checks every byte of a body and measures its members, descending into `instances` when
    /// `readsInstances`, keeping at most `limit` instances.
    ///
    /// - Throws: ``ModelHostError`` with ``ModelHostError/Code/invalidRequest`` when the body is
    ///   not valid JSON.
    static func scan(_ body: ByteBuffer, readsInstances: Bool, keepingAtMost limit: Int) throws(ModelHostError) -> Scanned {
        do throws(JSONParseError) {
            return try JSONScanner.withScanner(over: body.readableBytesView) { scanner throws(JSONParseError) in
                var scanned = Scanned()
                guard try scanner.peekKind() == .object else {
                    try scanner.finish()
                    return scanned
                }
                scanned.isObject = true
                try scanner.beginObject()
                while let key = try scanner.nextKey() {
                    if readsInstances, key == instancesKey {
                        scanned.instances = try scanInstances(&scanner, keepingAtMost: limit)
                    } else {
                        scanned.members.append((key, try scanner.skipValue()))
                    }
                }
                try scanner.finish()
                return scanned
            }
        } catch {
            throw ModelHostError(.invalidRequest, "request body is not valid JSON: \(error)")
        }
    }

    /// Measures the `instances` value: for an array, each element and an object's members.
    private static func scanInstances(_ scanner: inout JSONScanner, keepingAtMost limit: Int) throws(JSONParseError) -> ScannedInstances {
        var instances = ScannedInstances(kind: try scanner.peekKind())
        guard instances.kind == .array else {
            _ = try scanner.skipValue()
            return instances
        }
        try scanner.beginArray()
        while try scanner.nextElement() {
            instances.count += 1
            // An element that is not read is skipped, and checked, by the next `nextElement()`.
            guard instances.count <= limit else { continue }
            var instance = ScannedInstance(kind: try scanner.peekKind())
            if instance.kind == .object {
                try scanner.beginObject()
                while let key = try scanner.nextKey() {
                    instance.members.append((key, try scanner.skipValue()))
                }
            } else {
                _ = try scanner.skipValue()
            }
            instances.kept.append(instance)
        }
        return instances
    }
}

extension ModelHostError {
    /// The error with its message placed: `instances[3]: input "query" ...`; everything else,
    /// its ``validationFailure`` included, is kept.
    fileprivate func at(_ place: String) -> ModelHostError {
        var placed = self
        placed.message = "\(place): \(message)"
        return placed
    }
}
