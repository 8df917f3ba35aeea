import Foundation
import ModelHostCore
import ModelManifest
import Testing

@Suite("Manifest errors")
struct ManifestErrorTests {
    /// A change that makes the minimal manifest invalid, and the error it must produce.
    struct BadManifest: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var path: String
        var message: String
        var change: @Sendable (inout [String: Any]) -> Void

        init(_ description: String, path: String, message: String, change: @escaping @Sendable (inout [String: Any]) -> Void) {
            self.testDescription = description
            self.path = path
            self.message = message
            self.change = change
        }
    }

    /// Replaces the first input with `input` merged over `["name": "x", "datatype": "FP32", "shape": [-1]]`.
    static func setInput(_ object: inout [String: Any], _ input: [String: Any]) {
        let base: [String: Any] = ["name": "x", "datatype": "FP32", "shape": [-1]]
        object["inputs"] = [base.merging(input) { $1 }]
    }

    static let bad: [BadManifest] = [
        // Unknown keys.
        BadManifest("unknown top-level key", path: "extra", message: "unknown key") { $0["extra"] = 1 },
        BadManifest("misspelt limits key", path: "limits.maxConcurency", message: "unknown key") { $0["limits"] = ["maxConcurency": 2] },
        BadManifest("unknown input key", path: "inputs[0].dtype", message: "unknown key") { setInput(&$0, ["dtype": "FP32"]) },
        BadManifest("unknown output key", path: "outputs[0].size", message: "unknown key") {
            $0["outputs"] = [["name": "y", "datatype": "FP32", "shape": [-1], "size": 1]]
        },
        BadManifest("unknown constraints key", path: "inputs[0].constraints.maxLen", message: "unknown key") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["maxLen": 3]])
        },
        BadManifest("unknown breaker key", path: "breaker.window", message: "unknown key") { $0["breaker"] = ["window": 10] },
        BadManifest("unknown retry key", path: "retry.attempts", message: "unknown key") { $0["retry"] = ["attempts": 3] },
        BadManifest("unknown metadata key", path: "metadata.author", message: "unknown key") { $0["metadata"] = ["author": "me"] },
        BadManifest("unknown warmup key", path: "warmup[0].outputs", message: "unknown key") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1], "data": [1]]], "outputs": []]]
        },
        BadManifest("unknown warmup input key", path: "warmup[0].inputs[0].parameters", message: "unknown key") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1], "data": [1], "parameters": [:]]]]]
        },

        // Wrong types.
        BadManifest("name is a number", path: "name", message: "must be a string") { $0["name"] = 5 },
        BadManifest("name is null", path: "name", message: "not null") { $0["name"] = NSNull() },
        BadManifest("burst is a string", path: "limits.burst", message: "must be an integer") { $0["limits"] = ["burst": "10"] },
        BadManifest("manifestVersion is a string", path: "manifestVersion", message: "must be an integer") { $0["manifestVersion"] = "1" },
        BadManifest("inputs is an object", path: "inputs", message: "must be an array") { $0["inputs"] = ["name": "x"] },
        BadManifest("limits is an array", path: "limits", message: "must be an object") { $0["limits"] = [1] },
        BadManifest("required is a string", path: "inputs[0].required", message: "must be a boolean") { setInput(&$0, ["required": "yes"]) },
        BadManifest("failureRateThreshold is a string", path: "breaker.failureRateThreshold", message: "must be a number") {
            $0["breaker"] = ["failureRateThreshold": "half"]
        },
        BadManifest("metric is a string", path: "metadata.metrics.f1", message: "must be a number") { $0["metadata"] = ["metrics": ["f1": "high"]] },

        // Impossible values.
        BadManifest("maxConcurrency 0", path: "limits.maxConcurrency", message: "between 1") { $0["limits"] = ["maxConcurrency": 0] },
        BadManifest("maxConcurrency 1025", path: "limits.maxConcurrency", message: "between 1 and 1024") { $0["limits"] = ["maxConcurrency": 1025] },
        BadManifest("requestsPerSecond 0", path: "limits.requestsPerSecond", message: "between") { $0["limits"] = ["requestsPerSecond": 0] },
        BadManifest("maxQueue -1", path: "limits.maxQueue", message: "between 0") { $0["limits"] = ["maxQueue": -1] },
        BadManifest("timeoutMs 0", path: "limits.timeoutMs", message: "between 1") { $0["limits"] = ["timeoutMs": 0] },
        BadManifest("maxBatch 0", path: "limits.maxBatch", message: "between 1") { $0["limits"] = ["maxBatch": 0] },
        BadManifest("version 1.0", path: "version", message: "not a semantic version") { $0["version"] = "1.0" },
        BadManifest("datatype FP16", path: "inputs[0].datatype", message: "not a supported datatype") { setInput(&$0, ["datatype": "FP16"]) },
        BadManifest("lowercase datatype", path: "outputs[0].datatype", message: "not a supported datatype") {
            $0["outputs"] = [["name": "y", "datatype": "fp32", "shape": [-1]]]
        },
        BadManifest("dimension 0", path: "inputs[0].shape", message: "-1 (variable) or >= 1") { setInput(&$0, ["shape": [0]]) },
        BadManifest("dimension -2", path: "inputs[0].shape", message: "-1 (variable) or >= 1") { setInput(&$0, ["shape": [4, -2]]) },
        BadManifest("empty input name", path: "inputs[0].name", message: "1 to 128 bytes") { setInput(&$0, ["name": ""]) },
        BadManifest("maxLength on FP32", path: "inputs[0].constraints", message: "\"maxLength\" does not apply to FP32") {
            setInput(&$0, ["constraints": ["maxLength": 4]])
        },
        BadManifest("minimum on BYTES", path: "inputs[0].constraints", message: "\"minimum\" does not apply to BYTES") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["minimum": 0]])
        },
        BadManifest("allowNonFinite on INT32", path: "inputs[0].constraints", message: "\"allowNonFinite\" does not apply to INT32") {
            setInput(&$0, ["datatype": "INT32", "constraints": ["allowNonFinite": true]])
        },
        BadManifest("any rule on BOOL", path: "inputs[0].constraints", message: "does not apply to BOOL") {
            setInput(&$0, ["datatype": "BOOL", "constraints": ["minimum": 0]])
        },
        BadManifest("minLength above maxLength", path: "inputs[0].constraints.minLength", message: "must be <= maxLength (4)") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["minLength": 5, "maxLength": 4]])
        },
        BadManifest("negative minLength", path: "inputs[0].constraints.minLength", message: ">= 0") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["minLength": -1]])
        },
        BadManifest("maxLength 0", path: "inputs[0].constraints.maxLength", message: ">= 1") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["maxLength": 0]])
        },
        BadManifest("truncate without maxLength", path: "inputs[0].constraints.overLength", message: "needs maxLength") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["overLength": "truncate"]])
        },
        BadManifest("unknown overLength", path: "inputs[0].constraints.overLength", message: "cut") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["overLength": "cut", "maxLength": 4]])
        },
        BadManifest("invalid regex", path: "inputs[0].constraints.pattern", message: "not a valid regular expression") {
            setInput(&$0, ["datatype": "BYTES", "constraints": ["pattern": "([a-z"]])
        },
        BadManifest("minimum above maximum", path: "inputs[0].constraints.minimum", message: "must be <= maximum") {
            setInput(&$0, ["constraints": ["minimum": 2, "maximum": 1]])
        },
        BadManifest("duplicate input names", path: "inputs", message: "declares \"x\" twice") {
            $0["inputs"] = [["name": "x", "datatype": "FP32", "shape": [-1]], ["name": "x", "datatype": "INT8", "shape": [1]]]
        },
        BadManifest("duplicate output names", path: "outputs", message: "declares \"y\" twice") {
            $0["outputs"] = [["name": "y", "datatype": "FP32", "shape": [-1]], ["name": "y", "datatype": "FP32", "shape": [-1]]]
        },
        BadManifest("no inputs", path: "inputs", message: "at least one") { $0["inputs"] = [Any]() },
        BadManifest("no outputs", path: "outputs", message: "at least one") { $0["outputs"] = [Any]() },
        BadManifest("manifestVersion 2", path: "manifestVersion", message: "must be 1") { $0["manifestVersion"] = 2 },
        BadManifest("sha256 xyz", path: "sha256", message: "64 lowercase hexadecimal") { $0["sha256"] = "xyz" },
        BadManifest("sha256 uppercase", path: "sha256", message: "64 lowercase hexadecimal") { $0["sha256"] = String(repeating: "A", count: 64) },
        BadManifest("sha256 63 digits", path: "sha256", message: "64 lowercase hexadecimal") { $0["sha256"] = String(repeating: "a", count: 63) },
        BadManifest("artifacts is an object", path: "artifacts", message: "must be an array") { $0["artifacts"] = ["path": "w.bin"] },
        BadManifest("artifact without sha256", path: "artifacts[0].sha256", message: "is required") { $0["artifacts"] = [["path": "w.bin"]] },
        BadManifest("unknown artifact key", path: "artifacts[0].size", message: "unknown key") {
            $0["artifacts"] = [["path": "w.bin", "sha256": "", "size": 3]]
        },
        BadManifest("artifact sha256 xyz", path: "artifacts[0].sha256", message: "64 lowercase hexadecimal") {
            $0["artifacts"] = [["path": "w.bin", "sha256": "xyz"]]
        },
        BadManifest("artifact path with ..", path: "artifacts[0].path", message: "inside the bundle") {
            $0["artifacts"] = [["path": "weights/../../w.bin", "sha256": ""]]
        },
        BadManifest("artifact path ..", path: "artifacts[0].path", message: "inside the bundle") { $0["artifacts"] = [["path": "..", "sha256": ""]] },
        BadManifest("absolute artifact path", path: "artifacts[1].path", message: "inside the bundle") {
            $0["artifacts"] = [["path": "w.bin", "sha256": ""], ["path": "/etc/passwd", "sha256": ""]]
        },
        BadManifest("artifact path with an empty component", path: "artifacts[0].path", message: "inside the bundle") {
            $0["artifacts"] = [["path": "weights//w.bin", "sha256": ""]]
        },
        BadManifest("artifact path with a . component", path: "artifacts[0].path", message: "inside the bundle") {
            $0["artifacts"] = [["path": "./w.bin", "sha256": ""]]
        },
        BadManifest("empty artifact path", path: "artifacts[0].path", message: "inside the bundle") { $0["artifacts"] = [["path": "", "sha256": ""]] },
        BadManifest("an artifact listed twice", path: "artifacts", message: "lists \"w.bin\" twice") {
            $0["artifacts"] = [["path": "w.bin", "sha256": ""], ["path": "w.bin", "sha256": ""]]
        },
        BadManifest("library with a path", path: "library", message: "without '/'") { $0["library"] = "../x.so" },
        BadManifest("library ..", path: "library", message: "without '/'") { $0["library"] = ".." },
        BadManifest("empty library", path: "library", message: "without '/'") { $0["library"] = "" },
        BadManifest("uppercase name", path: "name", message: "must be 1 to 64") { $0["name"] = "Tiny" },
        BadManifest("name starting with '-'", path: "name", message: "must be 1 to 64") { $0["name"] = "-tiny" },
        BadManifest("name of 65 characters", path: "name", message: "must be 1 to 64") { $0["name"] = String(repeating: "a", count: 65) },
        BadManifest("empty name", path: "name", message: "must be 1 to 64") { $0["name"] = "" },
        BadManifest("abiVersion 0", path: "abiVersion", message: ">= 1") { $0["abiVersion"] = 0 },
        BadManifest("config is an array", path: "config", message: "must be an object") { $0["config"] = [1, 2] },
        BadManifest("warmup names an undeclared input", path: "warmup", message: "\"z\" is not a declared input") {
            $0["warmup"] = [["inputs": [["name": "z", "datatype": "FP32", "shape": [1], "data": [1]]]]]
        },
        BadManifest("warmup with the wrong datatype", path: "warmup", message: "must be FP32") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP64", "shape": [1], "data": [1]]]]]
        },
        BadManifest("warmup with a shape of the wrong rank", path: "warmup", message: "must be FP32 with shape [-1]") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1, 1], "data": [1]]]]]
        },
        BadManifest("warmup data that does not fit its shape", path: "warmup[0].inputs[0].data", message: "needs 2 elements") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [2], "data": [1]]]]]
        },
        BadManifest("warmup without inputs", path: "warmup[0].inputs", message: "at least one") { $0["warmup"] = [["inputs": [Any]()]] },
        BadManifest("breaker minimumCalls above windowSize", path: "breaker.minimumCalls", message: "must be <= windowSize (10)") {
            $0["breaker"] = ["minimumCalls": 11, "windowSize": 10]
        },
        BadManifest("breaker minimumCalls above the default windowSize", path: "breaker.minimumCalls", message: "must be <= windowSize (50)") {
            $0["breaker"] = ["minimumCalls": 51]
        },
        BadManifest("failureRateThreshold 0", path: "breaker.failureRateThreshold", message: "between 0.01 and 1") {
            $0["breaker"] = ["failureRateThreshold": 0]
        },
        BadManifest("failureRateThreshold above 1", path: "breaker.failureRateThreshold", message: "between") {
            $0["breaker"] = ["failureRateThreshold": 1.5]
        },
        BadManifest("halfOpenProbes 0", path: "breaker.halfOpenProbes", message: "between 1") { $0["breaker"] = ["halfOpenProbes": 0] },
        BadManifest("an unknown rollout mode", path: "rollout.mode", message: "must be one of \"auto\", \"manual\", \"canary\", \"split\", not \"blue-green\"") {
            $0["rollout"] = ["mode": "blue-green"]
        },
        BadManifest("a canary of 100 percent", path: "rollout.percent", message: "between 0.01 and 99.99") {
            $0["rollout"] = ["mode": "canary", "percent": 100]
        },
        BadManifest("an unknown rollout key", path: "rollout.weights", message: "unknown key") { $0["rollout"] = ["weights": [1, 2]] },
        BadManifest("consecutiveFailures 0", path: "breaker.consecutiveFailures", message: "between 1 and 100000") {
            $0["breaker"] = ["consecutiveFailures": 0]
        },
        BadManifest("consecutiveFailures above 100000", path: "breaker.consecutiveFailures", message: "between 1 and 100000") {
            $0["breaker"] = ["consecutiveFailures": 100_001]
        },
        BadManifest("openDurationMultiplier below 1", path: "breaker.openDurationMultiplier", message: "between 1") {
            $0["breaker"] = ["openDurationMultiplier": 0.5]
        },
        BadManifest("openDurationMultiplier above 100", path: "breaker.openDurationMultiplier", message: "between 1") {
            $0["breaker"] = ["openDurationMultiplier": 101]
        },
        BadManifest("openDurationMultiplier is a string", path: "breaker.openDurationMultiplier", message: "must be a number") {
            $0["breaker"] = ["openDurationMultiplier": "double"]
        },
        BadManifest("maxOpenDurationMs 0", path: "breaker.maxOpenDurationMs", message: "between 1 and 86400000") {
            $0["breaker"] = ["maxOpenDurationMs": 0]
        },
        BadManifest("maxOpenDurationMs above a day", path: "breaker.maxOpenDurationMs", message: "between 1 and 86400000") {
            $0["breaker"] = ["maxOpenDurationMs": 86_400_001]
        },
        BadManifest("breaker maxOpenDurationMs below openDurationMs", path: "breaker.maxOpenDurationMs", message: "must be >= openDurationMs (2000)") {
            $0["breaker"] = ["openDurationMs": 2000, "maxOpenDurationMs": 1999]
        },
        BadManifest("breaker openDurationMs above the default maxOpenDurationMs", path: "breaker.maxOpenDurationMs", message: "must be >= openDurationMs (300001)") {
            $0["breaker"] = ["openDurationMs": 300_001]
        },
        BadManifest("retry maxAttempts 11", path: "retry.maxAttempts", message: "between 1 and 10") { $0["retry"] = ["maxAttempts": 11] },
        BadManifest("retry base above cap", path: "retry.baseDelayMs", message: "must be <= maxDelayMs (500)") { $0["retry"] = ["baseDelayMs": 501] },
        BadManifest("retry budget above 100", path: "retry.budgetPercent", message: "between 0") { $0["retry"] = ["budgetPercent": 101] },

        // Missing required keys.
        BadManifest("no inputs key", path: "inputs", message: "is required") { $0["inputs"] = nil },
        BadManifest("no manifestVersion", path: "manifestVersion", message: "is required") { $0["manifestVersion"] = nil },
        BadManifest("no sha256", path: "sha256", message: "is required") { $0["sha256"] = nil },
        BadManifest("input without a shape", path: "inputs[0].shape", message: "is required") {
            $0["inputs"] = [["name": "x", "datatype": "FP32"]]
        },
        BadManifest("warmup input without data", path: "warmup[0].inputs[0].data", message: "is required") {
            $0["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1]]]]]
        },
    ]

    @Test("a bad manifest names the path and the problem", arguments: bad)
    func badManifest(_ bad: BadManifest) throws {
        var object = ManifestFixture.minimal
        bad.change(&object)
        let data = try ManifestFixture.data(object)
        let error = #expect(throws: ManifestError.self) { try Manifest.parse(data, file: "models/tiny/manifest.json") }
        #expect(error?.file == "models/tiny/manifest.json")
        #expect(error?.path == bad.path)
        #expect(error?.message.contains(bad.message) == true, "message: \(error?.message ?? "none")")
    }

    @Test("the minimal manifest itself is valid")
    func minimalIsValid() throws {
        _ = try ManifestFixture.parse(ManifestFixture.minimal)
    }

    @Test(
        "text that is not a JSON object is refused at the document",
        arguments: [
            ("not json at all", "not valid JSON"),
            ("", "not valid JSON"),
            (#"{"manifestVersion": 1,"#, "not valid JSON"),
            ("[1, 2]", "must be an object"),
            ("42", "must be an object"),
        ]
    )
    func notAnObject(_ text: String, _ message: String) {
        let error = #expect(throws: ManifestError.self) { try Manifest.parse(Data(text.utf8), file: "m.json") }
        #expect(error?.file == "m.json")
        #expect(error?.path == "(document)")
        #expect(error?.message.contains(message) == true, "message: \(error?.message ?? "none")")
    }

    @Test("description is file: path: message")
    func description() throws {
        #expect(ManifestError(file: "a/manifest.json", path: "limits.burst", message: "must be an integer").description
            == "a/manifest.json: limits.burst: must be an integer")
        var object = ManifestFixture.minimal
        object["limits"] = ["maxConcurrency": 0]
        let data = try ManifestFixture.data(object)
        let error = #expect(throws: ManifestError.self) { try Manifest.parse(data, file: "m.json") }
        #expect(error?.description.hasPrefix("m.json: limits.maxConcurrency: must be between 1 and 1024") == true)
    }
}

@Suite("Manifest.checkInputs")
struct CheckInputsTests {
    /// Inputs: `a` FP32 [-1] required, `b` BYTES [2, -1] required, `c` INT64 [3] optional.
    static func manifest() throws -> Manifest {
        var object = ManifestFixture.minimal
        object["inputs"] = [
            ["name": "a", "datatype": "FP32", "shape": [-1]],
            ["name": "b", "datatype": "BYTES", "shape": [2, -1]],
            ["name": "c", "datatype": "INT64", "shape": [3], "required": false],
        ]
        return try ManifestFixture.parse(object)
    }

    static func a(_ count: Int) throws -> Tensor {
        try Tensor(name: "a", datatype: .fp32, shape: [count], data: [UInt8](repeating: 0, count: 4 * count))
    }

    static func b(_ shape: [Int]) throws -> Tensor {
        try Tensor(name: "b", shape: shape, strings: Array(repeating: "s", count: shape.reduce(1, *)))
    }

    static func c(_ shape: [Int] = [3]) throws -> Tensor {
        try Tensor(name: "c", datatype: .int64, shape: shape, data: [UInt8](repeating: 0, count: 8 * shape.reduce(1, *)))
    }

    @Test("declared tensors of the right datatype and shape pass; an optional input may be absent")
    func valid() throws {
        let manifest = try Self.manifest()
        try manifest.checkInputs([Self.a(3), Self.b([2, 5])])
        try manifest.checkInputs([Self.b([2, 1]), Self.a(0), Self.c()])
        try manifest.checkInputs([Self.a(1000), Self.b([2, 0])])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        var messageFragments: [String]
        var tensors: @Sendable () throws -> [Tensor]
    }

    static let invalid: [Case] = [
        Case(testDescription: "unknown input", messageFragments: ["input \"z\"", "not an input of model \"tiny\"", "a, b, c"]) {
            [try a(1), try b([2, 1]), try Tensor(name: "z", datatype: .fp32, shape: [1], data: [0, 0, 0, 0])]
        },
        Case(testDescription: "wrong datatype", messageFragments: ["input \"a\"", "datatype must be FP32, got FP64"]) {
            [try Tensor(name: "a", datatype: .fp64, shape: [1], data: [UInt8](repeating: 0, count: 8)), try b([2, 1])]
        },
        Case(testDescription: "wrong rank", messageFragments: ["input \"a\"", "shape must fit [-1]", "got [1, 2]"]) {
            [try Tensor(name: "a", datatype: .fp32, shape: [1, 2], data: [UInt8](repeating: 0, count: 8)), try b([2, 1])]
        },
        Case(testDescription: "scalar for a vector", messageFragments: ["input \"a\"", "got []"]) {
            [try Tensor(name: "a", datatype: .fp32, shape: [], data: [0, 0, 0, 0]), try b([2, 1])]
        },
        Case(testDescription: "wrong fixed dimension", messageFragments: ["input \"b\"", "shape must fit [2, -1]", "got [3, 1]"]) {
            [try a(1), try b([3, 1])]
        },
        Case(testDescription: "wrong fixed dimension of an optional input", messageFragments: ["input \"c\"", "got [4]"]) {
            [try a(1), try b([2, 1]), try c([4])]
        },
        Case(testDescription: "missing required input", messageFragments: ["input \"b\"", "required but missing"]) {
            [try a(1)]
        },
        Case(testDescription: "nothing at all", messageFragments: ["input \"a\"", "required but missing"]) { [] },
        Case(testDescription: "only the optional input", messageFragments: ["required but missing"]) { [try c()] },
    ]

    @Test("tensors that break a declared rule are refused with a validation error naming the input", arguments: invalid)
    func refused(_ invalid: Case) throws {
        let manifest = try Self.manifest()
        let tensors = try invalid.tensors()
        let error = #expect(throws: ModelHostError.self) { try manifest.checkInputs(tensors) }
        #expect(error?.code == .validation)
        for fragment in invalid.messageFragments {
            #expect(error?.message.contains(fragment) == true, "message: \(error?.message ?? "none")")
        }
    }
}
