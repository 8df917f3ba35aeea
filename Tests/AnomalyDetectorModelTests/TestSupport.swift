import Foundation
import PluginKit

@testable import AnomalyDetectorModel

/// Paths and builders shared by the anomaly detector's tests.
enum TestSupport {
    /// `plugins/anomaly-detector` in this checkout, found from this file's path.
    static let pluginDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // AnomalyDetectorModelTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // the package
        .appendingPathComponent("plugins/anomaly-detector", isDirectory: true)

    /// The directory holding the shipped artifact, as a bundle directory would.
    static let artifactsDirectory = pluginDirectory.appendingPathComponent("artifacts", isDirectory: true)

    /// A detector created the way the host creates it, from the shipped artifact.
    static func makeDetector(configuration: String = #"{"model": "anomaly-model.json"}"#) throws -> AnomalyDetector {
        try AnomalyDetector(context: PluginContext(configuration: Data(configuration.utf8), bundleDirectory: artifactsDirectory))
    }

    /// The three inputs for a batch of transactions.
    static func inputs(amounts: [Double], timestamps: [String], categories: [String]) throws -> [Tensor] {
        [
            try amountTensor(amounts),
            try Tensor(name: "timestamp", shape: [timestamps.count], strings: timestamps),
            try Tensor(name: "merchant_category", shape: [categories.count], strings: categories),
        ]
    }

    /// An FP64 `amount` tensor.
    static func amountTensor(_ amounts: [Double], name: String = "amount") throws -> Tensor {
        var data: [UInt8] = []
        for amount in amounts {
            withUnsafeBytes(of: amount.bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return try Tensor(name: name, datatype: .fp64, shape: [amounts.count], data: data)
    }

    /// The elements of an FP64 tensor.
    static func doubles(_ tensor: Tensor) -> [Double] {
        stride(from: 0, to: tensor.data.count, by: 8).map { offset in
            var bits: UInt64 = 0
            for byte in 0..<8 {
                bits |= UInt64(tensor.data[offset + byte]) << (8 * byte)
            }
            return Double(bitPattern: bits)
        }
    }

    /// The elements of a BOOL tensor.
    static func bools(_ tensor: Tensor) -> [Bool] {
        tensor.data.map { $0 != 0 }
    }

    /// Scores one transaction through ``AnomalyDetector/infer(_:)``.
    static func score(
        _ detector: AnomalyDetector, amount: Double, timestamp: String, category: String
    ) throws -> (score: Double, isAnomaly: Bool) {
        let outputs = try detector.infer(inputs(amounts: [amount], timestamps: [timestamp], categories: [category]))
        return (doubles(outputs[0])[0], bools(outputs[1])[0])
    }
}
