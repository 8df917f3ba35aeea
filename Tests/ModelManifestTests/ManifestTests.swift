import Foundation
import ModelHostCore
import ModelManifest
import Testing

/// Builds manifest JSON from a minimal valid manifest and changes to it.
enum ManifestFixture {
    /// The fewest keys a valid manifest needs.
    static var minimal: [String: Any] {
        [
            "manifestVersion": 1,
            "name": "tiny",
            "version": "1.2.3",
            "library": "libTiny.so",
            "sha256": "",
            "abiVersion": 1,
            "inputs": [["name": "x", "datatype": "FP32", "shape": [-1]]],
            "outputs": [["name": "y", "datatype": "FP32", "shape": [-1]]],
        ]
    }

    static func data(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    static func parse(_ object: [String: Any], file: String = "manifest.json") throws -> Manifest {
        try Manifest.parse(data(object), file: file)
    }
}

@Suite("Manifest")
struct ManifestTests {
    static let manifestsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("manifests")

    static var exampleManifests: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: manifestsDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test("the examples folder holds the known manifests")
    func examplesPresent() {
        let known = ["echo.json", "intent-classifier.json", "intent-classifier-1.1.0.json", "anomaly-detector.json"]
        #expect(Set(known).isSubset(of: Set(Self.exampleManifests)))
    }

    /// A model's first manifest is `<name>.json`; a further version's is `<name>-<version>.json`.
    @Test("every example manifest parses and is named after its model", arguments: exampleManifests)
    func examplesParse(_ fileName: String) throws {
        let path = Self.manifestsDirectory.appendingPathComponent(fileName).path
        let manifest = try Manifest.load(contentsOf: path)
        #expect(["\(manifest.name).json", "\(manifest.name)-\(manifest.version).json"].contains(fileName))
        #expect(manifest.sha256 == "")
        #expect(manifest.artifacts.allSatisfy { $0.sha256.isEmpty })
        #expect(manifest.abiVersion == 1)
        #expect(!manifest.inputs.isEmpty)
        #expect(!manifest.outputs.isEmpty)
        for sample in manifest.warmup {
            #expect(throws: Never.self) { try manifest.checkInputs(sample.inputs) }
        }
    }

    @Test("the intent-classifier manifest's values are read")
    func intentClassifier() throws {
        let manifest = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("intent-classifier.json").path)
        #expect(manifest.version == SemanticVersion(major: 1, minor: 0, patch: 0))
        #expect(manifest.library == "libIntentClassifierPlugin.so")
        #expect(manifest.platform == "modelhost_swift")
        let query = try #require(manifest.input(named: "query"))
        #expect(query.datatype == .bytes)
        #expect(query.shape == [-1])
        #expect(query.isRequired)
        #expect(query.constraints == InputConstraints(minLength: 1, maxLength: 512, overLength: .truncate))
        #expect(manifest.outputs.map(\.name) == ["intent", "confidence"])
        #expect(manifest.outputs.map(\.datatype) == [.bytes, .fp32])
        #expect(manifest.limits.requestsPerSecond == 200)
        #expect(manifest.limits.burst == 50)
        #expect(manifest.limits.maxConcurrency == 4)
        #expect(manifest.limits.timeoutMilliseconds == 500)
        #expect(manifest.limits.maxQueue == 128)
        #expect(manifest.limits.maxBatch == 32)
        #expect(manifest.config == .object(["model": .string("intent-model.json")]))
        #expect(manifest.metadata.metrics == ["heldOutAccuracy": 0.8417])
        #expect(manifest.metadata.owner == "modelhost-examples")
        let warmup = try #require(manifest.warmup.first?.inputs.first)
        #expect(warmup == (try Tensor(name: "query", shape: [1], strings: ["What is my balance?"])))
    }

    @Test("no two example manifests declare the same model version")
    func examplesAreDistinctVersions() throws {
        let versions = try Self.exampleManifests.map { fileName in
            let manifest = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent(fileName).path)
            return "\(manifest.name) \(manifest.version)"
        }
        #expect(Set(versions).count == versions.count, "\(versions.sorted())")
    }

    @Test("the intent-classifier 1.1.0 manifest is a canary of the same plugin with the quantized artifact")
    func intentClassifierSecondVersion() throws {
        let first = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("intent-classifier.json").path)
        let manifest = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("intent-classifier-1.1.0.json").path)
        #expect(manifest.name == "intent-classifier")
        #expect(manifest.version == SemanticVersion(major: 1, minor: 1, patch: 0))
        #expect(manifest.library == first.library)
        #expect(manifest.inputs == first.inputs)
        #expect(manifest.outputs == first.outputs)
        #expect(manifest.limits == first.limits)
        #expect(manifest.config == .object(["model": .string("intent-model-int8.json")]))
        #expect(manifest.rollout.mode == .canary)
        #expect(manifest.rollout.percent == 10)
        #expect(manifest.rollout.watchMilliseconds == 300_000)
        #expect(first.rollout == RolloutSettings())
        let metrics = manifest.metadata.metrics
        for key in ["heldOutAccuracy", "heldOutAccuracyFloat", "inScopeAccuracy", "outOfScopeRecall", "outOfScopePrecision"] {
            let value = try #require(metrics[key], "metadata.metrics.\(key)")
            #expect(value > 0 && value <= 1)
        }
    }

    @Test("the intent-classifier and anomaly-detector manifests track their outputs for drift, with baselines")
    func exampleTracking() throws {
        for fileName in ["intent-classifier.json", "intent-classifier-1.1.0.json"] {
            let manifest = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent(fileName).path)
            let tracking = try #require(manifest.tracking, "\(fileName)")
            #expect(tracking.outputs.map(\.name) == ["intent", "confidence"])
            guard case .categorical(let classes) = tracking.outputs[0].kind else {
                Issue.record("\(fileName): intent is not categorical")
                continue
            }
            #expect(classes.contains("check_balance"))
            #expect(classes.contains("out_of_scope") == (manifest.version.minor == 1))
            #expect(tracking.outputs[1].kind == .numeric(bounds: [0.5, 0.7, 0.9, 0.99, 0.999]))
            #expect(tracking.outputs.allSatisfy { $0.baselineFractions != nil })
        }
        let anomaly = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("anomaly-detector.json").path)
        let tracking = try #require(anomaly.tracking)
        #expect(tracking.outputs.map(\.name) == ["score", "is_anomaly"])
        #expect(!tracking.outputs[0].isCategorical)
        #expect(tracking.outputs[1].kind == .categorical(classes: ["false", "true"]))
        let flagged = try #require(tracking.outputs[1].baselineFractions?[1])
        #expect(flagged > 0.01 && flagged < 0.1)
        #expect(try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("echo.json").path).tracking == nil)
    }

    @Test("the echo manifest's optional input and numeric warmup are read")
    func echo() throws {
        let manifest = try Manifest.load(contentsOf: Self.manifestsDirectory.appendingPathComponent("echo.json").path)
        #expect(manifest.input(named: "text")?.isRequired == false)
        #expect(manifest.input(named: "text")?.constraints.maxLength == 4096)
        #expect(manifest.input(named: "input0")?.isRequired == true)
        let sample = try #require(manifest.warmup.first?.inputs.first)
        #expect(sample.datatype == .fp32)
        #expect(sample.shape == [4])
        #expect(sample.data == [Float(1), 2, 3, 4].flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } })
    }

    @Test("a minimal manifest gets every documented default")
    func defaults() throws {
        let manifest = try ManifestFixture.parse(ManifestFixture.minimal)
        #expect(manifest.name == "tiny")
        #expect(manifest.version.description == "1.2.3")
        #expect(manifest.library == "libTiny.so")
        #expect(manifest.sha256 == "")
        #expect(manifest.artifacts.isEmpty)
        #expect(manifest.platform == "modelhost_plugin")
        #expect(manifest.warmup.isEmpty)
        #expect(manifest.config == .object([:]))
        #expect(manifest.metadata == ModelMetadata())
        #expect(manifest.metadata.description == nil)
        #expect(manifest.metadata.metrics.isEmpty)

        let input = try #require(manifest.inputs.first)
        #expect(input.isRequired)
        #expect(input.constraints == InputConstraints())
        #expect(input.constraints.overLength == .reject)
        #expect(input.constraints.requiresUTF8)
        #expect(!input.constraints.allowsNUL)
        #expect(!input.constraints.allowsNonFinite)

        #expect(manifest.limits == ModelLimits())
        #expect(manifest.limits.requestsPerSecond == 100)
        #expect(manifest.limits.burst == 20)
        #expect(manifest.limits.maxConcurrency == 1)
        #expect(manifest.limits.timeoutMilliseconds == 1000)
        #expect(manifest.limits.maxQueue == 64)
        #expect(manifest.limits.maxBatch == 32)

        #expect(manifest.breaker == BreakerSettings())
        #expect(manifest.breaker.failureRateThreshold == 0.5)
        #expect(manifest.breaker.slowCallRateThreshold == 1.0)
        #expect(manifest.breaker.slowCallDurationMilliseconds == 2000)
        #expect(manifest.breaker.minimumCalls == 20)
        #expect(manifest.breaker.windowSize == 50)
        #expect(manifest.breaker.openDurationMilliseconds == 30_000)
        #expect(manifest.breaker.halfOpenProbes == 3)
        #expect(manifest.breaker.consecutiveFailures == 5)
        #expect(manifest.breaker.openDurationMultiplier == 2)
        #expect(manifest.breaker.maxOpenDurationMilliseconds == 300_000)

        #expect(manifest.retry == RetrySettings())
        #expect(manifest.retry.maxAttempts == 2)
        #expect(manifest.retry.baseDelayMilliseconds == 25)
        #expect(manifest.retry.maxDelayMilliseconds == 500)
        #expect(manifest.retry.budgetPercent == 20)

        #expect(manifest.rollout == RolloutSettings())
        #expect(manifest.rollout.mode == .auto)
        #expect(manifest.rollout.percent == 10)
        #expect(manifest.rollout.watchMilliseconds == 300_000)
        #expect(manifest.rollout.maxErrorRate == 0.05)
        #expect(manifest.rollout.minimumRequests == 20)
    }

    @Test("a rollout section names its mode and watch", arguments: RolloutSettings.Mode.allCases)
    func rolloutSections(mode: RolloutSettings.Mode) throws {
        var object = ManifestFixture.minimal
        object["rollout"] = ["mode": mode.rawValue, "percent": 25, "watchMs": 60_000, "maxErrorRate": 0.2, "minimumRequests": 50]
        let rollout = try ManifestFixture.parse(object).rollout
        #expect(rollout.mode == mode)
        #expect(rollout.percent == 25)
        #expect(rollout.watchMilliseconds == 60_000)
        #expect(rollout.maxErrorRate == 0.2)
        #expect(rollout.minimumRequests == 50)
    }

    @Test("empty sections take every default; given fields override only themselves")
    func partialSections() throws {
        var object = ManifestFixture.minimal
        object["limits"] = [String: Any]()
        object["breaker"] = ["windowSize": 100]
        object["retry"] = ["maxAttempts": 5]
        let manifest = try ManifestFixture.parse(object)
        #expect(manifest.limits == ModelLimits())
        var breaker = BreakerSettings()
        breaker.windowSize = 100
        #expect(manifest.breaker == breaker)
        var retry = RetrySettings()
        retry.maxAttempts = 5
        #expect(manifest.retry == retry)
    }

    @Test("the breaker's consecutive-failure and open-duration growth keys are read")
    func breakerGrowthKeys() throws {
        var object = ManifestFixture.minimal
        object["breaker"] = ["consecutiveFailures": 3, "openDurationMultiplier": 1.5, "openDurationMs": 1000, "maxOpenDurationMs": 60_000]
        let manifest = try ManifestFixture.parse(object)
        var breaker = BreakerSettings()
        breaker.consecutiveFailures = 3
        breaker.openDurationMultiplier = 1.5
        breaker.openDurationMilliseconds = 1000
        breaker.maxOpenDurationMilliseconds = 60_000
        #expect(manifest.breaker == breaker)
    }

    @Test("artifacts are read with their paths and digests, in order")
    func artifacts() throws {
        var object = ManifestFixture.minimal
        let digest = String(repeating: "0123456789abcdef", count: 4)
        object["artifacts"] = [["path": "weights/model.bin", "sha256": digest], ["path": "vocab.txt", "sha256": ""]]
        let manifest = try ManifestFixture.parse(object)
        #expect(manifest.artifacts == [ArtifactSpec(path: "weights/model.bin", sha256: digest), ArtifactSpec(path: "vocab.txt", sha256: "")])
    }

    @Test("config keeps any JSON object exactly")
    func config() throws {
        var object = ManifestFixture.minimal
        object["config"] = ["threshold": 0.25, "labels": ["a", "b"], "big": UInt64.max, "nested": ["on": true]]
        let manifest = try ManifestFixture.parse(object)
        #expect(manifest.config == .object([
            "threshold": .double(0.25),
            "labels": .array([.string("a"), .string("b")]),
            "big": .unsignedInteger(.max),
            "nested": .object(["on": .bool(true)]),
        ]))
    }

    @Test("optional inputs, constraints and metadata are read")
    func fullInput() throws {
        var object = ManifestFixture.minimal
        object["inputs"] = [
            ["name": "q", "datatype": "BYTES", "shape": [1, -1], "required": false,
             "constraints": ["minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$", "requireUTF8": false, "allowNUL": true]],
            ["name": "n", "datatype": "FP64", "shape": [3], "constraints": ["minimum": -1, "maximum": 1.5, "allowNonFinite": true]],
            ["name": "i", "datatype": "INT32", "shape": [], "constraints": ["minimum": 0]],
        ]
        object["metadata"] = ["description": "d", "owner": "o", "trainingData": "t", "metrics": ["f1": 0.5, "n": 3]]
        let manifest = try ManifestFixture.parse(object)
        #expect(manifest.inputs.map(\.name) == ["q", "n", "i"])
        #expect(manifest.inputs[0].isRequired == false)
        #expect(manifest.inputs[0].shape == [1, -1])
        #expect(manifest.inputs[0].constraints == InputConstraints(minLength: 2, maxLength: 8, pattern: "^[a-z]+$", requiresUTF8: false, allowsNUL: true))
        #expect(manifest.inputs[1].constraints == InputConstraints(minimum: -1, maximum: 1.5, allowsNonFinite: true))
        #expect(manifest.inputs[2].shape == [])
        #expect(manifest.inputs[2].constraints.minimum == 0)
        #expect(manifest.metadata == ModelMetadata(description: "d", owner: "o", trainingData: "t", metrics: ["f1": 0.5, "n": 3]))
    }

    @Test("load names the file when it cannot be read")
    func loadMissing() {
        let path = "/nonexistent/manifest.json"
        let error = #expect(throws: ManifestError.self) { try Manifest.load(contentsOf: path) }
        #expect(error?.file == path)
        #expect(error?.path == "(document)")
        #expect(error?.message.contains("cannot be read") == true)
    }

    @Test("input(named:) finds a declared input")
    func inputNamed() throws {
        let manifest = try ManifestFixture.parse(ManifestFixture.minimal)
        #expect(manifest.input(named: "x")?.datatype == .fp32)
        #expect(manifest.input(named: "y") == nil)
    }

    @Test(
        "TensorSpec.accepts(shape:) needs the same rank and every fixed dimension",
        arguments: [
            ([-1], [0], true), ([-1], [7], true), ([-1], [], false), ([-1], [1, 1], false),
            ([2, -1], [2, 9], true), ([2, -1], [3, 9], false), ([2, 3], [2, 3], true), ([2, 3], [3, 2], false),
            ([], [], true), ([], [1], false),
        ]
    )
    func acceptsShape(_ declared: [Int], _ candidate: [Int], _ accepted: Bool) {
        #expect(TensorSpec(name: "x", datatype: .fp32, shape: declared).accepts(shape: candidate) == accepted)
    }
}
