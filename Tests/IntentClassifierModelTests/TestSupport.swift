import Foundation
import PluginKit
import Testing

@testable import IntentClassifierModel

/// A shipped version of the intent classifier: its manifest, artifacts and held-out split.
enum Release: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// 12 intents, float log likelihoods (artifact format version 1).
    case first = "1.0.0"
    /// 12 intents and `out_of_scope`, int8 log likelihoods (artifact format version 2).
    case quantized = "1.1.0"

    var testDescription: String { rawValue }

    /// The source manifest in `manifests/`.
    var manifestPath: String {
        switch self {
        case .first: "manifests/intent-classifier.json"
        case .quantized: "manifests/intent-classifier-\(rawValue).json"
        }
    }

    /// The folder of the artifacts the bundle holds, standing in for the bundle directory.
    var artifactsDirectory: URL {
        switch self {
        case .first: Fixture.plugin.appendingPathComponent("artifacts", isDirectory: true)
        case .quantized: Fixture.plugin.appendingPathComponent("artifacts-\(rawValue)", isDirectory: true)
        }
    }

    /// The held-out split the trainer wrote.
    var heldOutFile: URL {
        switch self {
        case .first: Fixture.training.appendingPathComponent("heldout.csv")
        case .quantized: Fixture.training.appendingPathComponent("heldout-\(rawValue).csv")
        }
    }
}

/// The repository's intent-classifier files and classifiers built from them, shared by the tests.
enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let plugin = root.appendingPathComponent("plugins/intent-classifier", isDirectory: true)
    static let artifacts = plugin.appendingPathComponent("artifacts", isDirectory: true)
    static let training = plugin.appendingPathComponent("training", isDirectory: true)

    /// A release's source manifest as a JSON object.
    static func manifest(_ release: Release = .first) throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent(release.manifestPath))
        let manifest = try JSONSerialization.jsonObject(with: data)
        return try #require(manifest as? [String: Any])
    }

    /// A number from the manifest's `metadata.metrics`.
    static func recordedMetric(_ name: String, of release: Release) throws -> Double {
        let metadata = try #require(try manifest(release)["metadata"] as? [String: Any])
        let metrics = try #require(metadata["metrics"] as? [String: Any])
        return try #require(metrics[name] as? Double, "metadata.metrics.\(name)")
    }

    /// A classifier built the way the host builds it: the manifest's config and the artifacts directory.
    static func makeClassifier(_ release: Release = .first) throws -> IntentClassifier {
        let config = try #require(try manifest(release)["config"] as? [String: Any])
        let configuration = try JSONSerialization.data(withJSONObject: config)
        return try IntentClassifier(context: PluginContext(configuration: configuration, bundleDirectory: release.artifactsDirectory))
    }

    /// Classifies queries with a release's plugin, in one call.
    static func classify(_ queries: [String], shape: [Int]? = nil, release: Release = .first) throws -> ([String], [Float]) {
        let input = try Tensor(name: "query", shape: shape ?? [queries.count], strings: queries)
        let outputs = try makeClassifier(release).infer([input])
        let intents = try #require(outputs.first { $0.name == "intent" }).byteElements.map { String(decoding: $0, as: UTF8.self) }
        let data = try #require(outputs.first { $0.name == "confidence" }).data
        let confidences = stride(from: 0, to: data.count, by: 4).map { offset in
            Float(bitPattern: UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24)
        }
        return (intents, confidences)
    }

    /// A release's held-out split: (text, intent) rows, without the header.
    static func heldOut(_ release: Release) throws -> [(text: String, intent: String)] {
        let rows = parseCSV(try String(contentsOf: release.heldOutFile, encoding: .utf8))
        #expect(rows.first == ["text", "intent"])
        return try rows.dropFirst().map { row in
            try #require(row.count == 2, "\(row)")
            return (row[0], row[1])
        }
    }

    /// Parses RFC 4180 CSV (quoted fields, doubled quotes, `\n` or `\r\n` line ends).
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var isQuoted = false
        var characters = text.makeIterator()
        var pending = characters.next()
        while let character = pending {
            pending = characters.next()
            if isQuoted {
                if character == "\"" {
                    if pending == "\"" {
                        field.append("\"")
                        pending = characters.next()
                    } else {
                        isQuoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                isQuoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\n" || character == "\r\n" {
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}
