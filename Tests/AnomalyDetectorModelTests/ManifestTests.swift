import Foundation
import PluginKit
import Testing

@testable import AnomalyDetectorModel

/// Checks that `manifests/anomaly-detector.json` and the plugin agree.
@Suite("anomaly-detector manifest")
struct ManifestTests {
    static let manifestURL = TestSupport.pluginDirectory
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("manifests/anomaly-detector.json")

    static func manifest() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
    }

    @Test("the plugin is created from the manifest's config")
    func configuration() throws {
        let config = try #require(try Self.manifest()["config"])
        let data = try JSONSerialization.data(withJSONObject: config)
        _ = try AnomalyDetector(context: PluginContext(configuration: data, bundleDirectory: TestSupport.artifactsDirectory))
    }

    @Test("the manifest's warmup sample runs and its inputs and outputs are the plugin's")
    func warmup() throws {
        let manifest = try Self.manifest()
        let declaredInputs = try #require(manifest["inputs"] as? [[String: Any]])
        #expect(declaredInputs.compactMap { $0["name"] as? String } == ["amount", "timestamp", "merchant_category"])
        let declaredOutputs = try #require(manifest["outputs"] as? [[String: Any]])

        let warmup = try #require((manifest["warmup"] as? [[String: Any]])?.first?["inputs"] as? [[String: Any]])
        let inputs = try warmup.map { input -> Tensor in
            let name = try #require(input["name"] as? String)
            let shape = try #require(input["shape"] as? [Int])
            if input["datatype"] as? String == "FP64" {
                return try TestSupport.amountTensor(try #require(input["data"] as? [Double]), name: name)
            }
            return try Tensor(name: name, shape: shape, strings: try #require(input["data"] as? [String]))
        }
        let outputs = try TestSupport.makeDetector().infer(inputs)
        #expect(outputs.map(\.name) == declaredOutputs.compactMap { $0["name"] as? String })
        #expect(outputs.map(\.datatype.rawValue) == declaredOutputs.compactMap { $0["datatype"] as? String })
    }

    @Test("the manifest records the threshold the artifact uses")
    func metrics() throws {
        let metadata = try #require(try Self.manifest()["metadata"] as? [String: Any])
        let metrics = try #require(metadata["metrics"] as? [String: Any])
        let threshold = try #require(metrics["threshold"] as? Double)
        #expect(try TestSupport.makeDetector().model.threshold == threshold)
        for name in ["heldOutPrecision", "heldOutRecall", "heldOutF1"] {
            let value = try #require(metrics[name] as? Double, "\(name)")
            #expect((0...1).contains(value))
        }
    }
}
