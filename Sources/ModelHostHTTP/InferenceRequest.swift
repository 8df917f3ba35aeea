import Foundation
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

    private struct Body: Decodable {
        var id: String?
        var inputs: [Input]
        var outputs: [Output]?
    }

    private struct Input: Decodable {
        var name: String
        var shape: [Int]
        var datatype: String
        var data: JSONValue
    }

    private struct Output: Decodable {
        var name: String
    }

    /// Decodes a request body.
    ///
    /// - Throws: ``ModelHostError`` with code ``ModelHostError/Code/invalidRequest`` naming what
    ///   is malformed and where.
    init(body: ByteBuffer) throws(ModelHostError) {
        let decoded: Body
        do {
            decoded = try JSONDecoder().decode(Body.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw ModelHostError(.invalidRequest, "request body: \(Self.describe(error))")
        } catch {
            throw ModelHostError(.invalidRequest, "request body: \(error)")
        }
        guard !decoded.inputs.isEmpty else {
            throw ModelHostError(.invalidRequest, "request body: \"inputs\" must hold at least one tensor")
        }
        var names: Set<String> = []
        var tensors: [Tensor] = []
        tensors.reserveCapacity(decoded.inputs.count)
        for (index, input) in decoded.inputs.enumerated() {
            guard names.insert(input.name).inserted else {
                throw ModelHostError(.invalidRequest, "inputs[\(index)]: \"\(input.name)\" is given twice")
            }
            guard let datatype = Datatype(rawValue: input.datatype) else {
                let allowed = Datatype.allCases.map(\.rawValue).joined(separator: ", ")
                throw ModelHostError(.invalidRequest, "inputs[\(index)] \"\(input.name)\": datatype \"\(input.datatype)\" is not supported (one of \(allowed))")
            }
            do {
                tensors.append(try Tensor(name: input.name, datatype: datatype, shape: input.shape, json: input.data))
            } catch {
                throw ModelHostError(.invalidRequest, "inputs[\(index)] \(error)")
            }
        }
        id = decoded.id
        inputs = tensors
        requestedOutputs = decoded.outputs?.map(\.name)
    }

    /// A decoding error as a path and a reason.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "(body)" : text)
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)) has the wrong type (expected \(type))"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
