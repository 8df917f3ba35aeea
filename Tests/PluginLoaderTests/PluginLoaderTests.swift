import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import PluginLoader
import Testing

/// Loading plugins with `dlopen`: the real echo plugin, and C fixtures that each misbehave in
/// exactly one way. These tests call the loader and the instance directly on the test's thread;
/// running them on the versions' own threads is the Scheduler's, tested there.
struct PluginLoaderTests {
    // MARK: The echo plugin

    @Test func echoPluginReturnsItsInputs() async throws {
        let models = try ModelsDirectory()
        let loaded = try PluginLoader().load(bundleAt: models.addExample("echo"))
        defer { loaded.instance.destroy() }
        #expect(loaded.manifest.name == "echo")
        #expect(loaded.instance.name == "echo")
        #expect(loaded.instance.version.description == "1.0.0")

        let inputs = [
            try Tensor(name: "input0", datatype: .fp32, shape: [2, 2], data: floatBytes([1.5, -2, 0, 1e9])),
            try Tensor(name: "text", shape: [3], strings: ["hello", "", "wörld ✓"]),
        ]
        let outputs = try loaded.instance.infer(inputs, context: .unbounded).get()
        #expect(outputs.map(\.name) == ["input0", "text"])
        #expect(outputs.map(\.datatype) == [.fp32, .bytes])
        #expect(outputs.map(\.shape) == [[2, 2], [3]])
        #expect(outputs.map(\.data) == inputs.map(\.data))
        #expect(outputs[1].byteElements.map { String(decoding: $0, as: UTF8.self) } == ["hello", "", "wörld ✓"])
    }

    @Test func echoPluginReceivesTheManifestConfig() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo") {
            $0["config"] = ["outputPrefix": "echo_"]
            $0["outputs"] = [["name": "echo_input0", "datatype": "FP32", "shape": [-1]]]
        }
        let loaded = try PluginLoader().load(bundleAt: directory)
        defer { loaded.instance.destroy() }
        let outputs = try loaded.instance.infer([Tensor(name: "input0", datatype: .fp32, shape: [1], data: floatBytes([7]))], context: .unbounded).get()
        #expect(outputs.map(\.name) == ["echo_input0"])
        #expect(outputs.first?.data == floatBytes([7]))
    }

    @Test func echoPluginWithABadConfigFailsToCreate() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo") { $0["config"] = ["outputPrefix": String(repeating: "p", count: 100)] }
        let error = try #require(loadError(directory))
        #expect(error.code == .createFailed)
        #expect(error.message.contains("config.outputPrefix must be a string shorter than 64 bytes"))
    }

    @Test func verificationRunsBeforeLoading() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory)
        #expect(loadError(directory)?.code == .insecurePermissions)
    }

    // MARK: Libraries the loader refuses

    @Test(arguments: LoadFailure.all)
    func refusesBrokenPlugin(failure: LoadFailure) async throws {
        let models = try ModelsDirectory()
        let directory = try await FixtureBundle.make(failure.name, source: failure.source, in: models, warmup: failure.hasWarmup)
        let error = try #require(loadError(directory))
        #expect(error.code == failure.code, "\(error)")
        #expect(error.bundle == directory)
        for fragment in failure.fragments {
            #expect(error.message.contains(fragment), "\(error.message) should contain \(fragment)")
        }
    }

    @Test func aFailedWarmupDestroysTheInstanceItCreated() async throws {
        let models = try ModelsDirectory()
        let source = FixtureSource.make(infer: #"mh_error_set(error, "cold"); return MH_ERROR_INTERNAL;"#)
        let directory = try await FixtureBundle.make("cold-warmup", source: source, in: models, warmup: true)
        #expect(loadError(directory)?.code == .warmupFailed)
        let library = directory + "/libcold-warmup.so"
        #expect(try FixtureBundle.counter("fixture_creates", inLibrary: library)() == 1)
        #expect(try FixtureBundle.counter("fixture_destroys", inLibrary: library)() == 1)
    }

    @Test func destroyRunsOnceHoweverOftenItIsCalled() async throws {
        let models = try ModelsDirectory()
        let directory = try await FixtureBundle.make("destroyed-once", source: FixtureSource.make(), in: models)
        let loaded = try PluginLoader().load(bundleAt: directory)
        loaded.instance.destroy()
        loaded.instance.destroy()
        #expect(try FixtureBundle.counter("fixture_destroys", inLibrary: directory + "/libdestroyed-once.so")() == 1)
    }

    @Test func shortTableIsRefusedWithoutReadingPastItsEnd() async throws {
        // An older plugin's 12-byte table, placed right before an unreadable page: reading any
        // field beyond the three version fields would crash the test process.
        let source = """
            #include <stdint.h>
            #include <sys/mman.h>
            #include "modelhost_plugin.h"

            __attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) {
                long page = 4096;
                char *pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (pages == MAP_FAILED || mprotect(pages + page, page, PROT_NONE) != 0) return NULL;
                uint32_t *table = (uint32_t *)(pages + page - 12);
                table[0] = MH_ABI_VERSION_MAJOR; table[1] = 0; table[2] = 12;
                return (const mh_plugin_api *)table;
            }
            """
        let models = try ModelsDirectory()
        let error = try #require(loadError(await FixtureBundle.make("guarded-table", source: source, in: models)))
        #expect(error.code == .abiMismatch)
        #expect(error.message.contains("table of 12 bytes"))
    }

    @Test func refusesLibraryThatIsNotASharedObject() async throws {
        let models = try ModelsDirectory()
        let garbage = models.path + "/.garbage.so"
        var generator = SystemRandomNumberGenerator()
        try Data((0..<4096).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).write(to: URL(fileURLWithPath: garbage))
        let directory = try models.addBundle(manifest: FixtureBundle.manifest("garbage"), library: garbage)

        let error = try #require(loadError(directory))
        #expect(error.code == .loadFailed)
        #expect(error.message.contains("dlopen failed"))
    }

    // MARK: ABI versions

    @Test func anABI10PluginLoadsAndIsCalledThroughInfer() async throws {
        // An ABI 1.0 table ends after `destroy`; it is placed right before an unreadable page,
        // so reading a 1.1 field would crash the test process.
        let source = """
            #include <stdint.h>
            #include <string.h>
            #include <sys/mman.h>
            #include "modelhost_plugin.h"

            static int token;
            static mh_status create(const char *c, size_t n, const char *d, void **out, mh_error *e) { *out = &token; return MH_OK; }
            static mh_status infer(void *i, const mh_tensor *inputs, size_t count, const mh_output_sink *sink, mh_error *e) {
                void *out = sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, inputs[0].shape, inputs[0].rank, inputs[0].byte_size);
                if (out == NULL) return MH_ERROR_INTERNAL;
                memcpy(out, inputs[0].data, inputs[0].byte_size);
                return MH_OK;
            }
            static void destroy(void *i) {}

            __attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) {
                long page = 4096;
                size_t size = offsetof(mh_plugin_api, capabilities);
                char *pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (pages == MAP_FAILED) return NULL;
                mh_plugin_api *table = (mh_plugin_api *)(pages + page - size);
                table->abi_version_major = 1; table->abi_version_minor = 0; table->struct_size = (uint32_t)size;
                table->create = create; table->infer = infer; table->destroy = destroy;
                if (mprotect(pages + page, page, PROT_NONE) != 0) return NULL;
                return table;
            }
            """
        let models = try ModelsDirectory()
        let loaded = try PluginLoader().load(bundleAt: await FixtureBundle.make("abi-one-zero", source: source, in: models))
        defer { loaded.instance.destroy() }
        #expect(!loaded.instance.supportsBatching)
        let outputs = try loaded.instance.infer([FixtureBundle.input(4)], context: .unbounded).get()
        #expect(outputs.first?.data == floatBytes([4]))
    }

    @Test func anABI11PluginReceivesItsDeadlineAndCancellationFlag() async throws {
        // Writes back: whether a deadline came, the nanoseconds left, and the cancellation flag.
        let source = FixtureSource.make(
            infer: """
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                int64_t left = context->deadline_ns - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
                int64_t shape[1] = {3};
                int64_t *out = sink->allocate_output(sink->host_context, "report", MH_DATATYPE_INT64, shape, 1, 3 * sizeof(int64_t));
                if (out == NULL) return MH_ERROR_INTERNAL;
                out[0] = context->deadline_ns != MH_NO_DEADLINE;
                out[1] = left;
                out[2] = mh_call_is_cancelled(context);
                return MH_OK;
                """,
            withContext: true, capabilities: "MH_CAPABILITY_BATCHING"
        )
        let models = try ModelsDirectory()
        let outputs: [[String: Any]] = [["name": "report", "datatype": "INT64", "shape": [3]]]
        let loaded = try PluginLoader().load(bundleAt: await FixtureBundle.make("with-context", source: source, in: models, outputs: outputs))
        defer { loaded.instance.destroy() }
        #expect(loaded.instance.supportsBatching)

        let flag = CancellationFlag()
        let deadline = ContinuousClock.now.advanced(by: .milliseconds(500))
        let first = try int64s(loaded.instance.infer([FixtureBundle.input()], context: PluginCallContext(deadline: deadline, cancellation: flag)).get())
        #expect(first[0] == 1)
        #expect(first[1] > 0 && first[1] <= 500_000_000, "\(first[1]) ns left of 500 ms")
        #expect(first[2] == 0)
        flag.raise()
        let second = try int64s(loaded.instance.infer([FixtureBundle.input()], context: PluginCallContext(deadline: deadline, cancellation: flag)).get())
        #expect(second[2] == 1)
        let unbounded = try int64s(loaded.instance.infer([FixtureBundle.input()], context: .unbounded).get())
        #expect(unbounded[0] == 0)
        #expect(unbounded[2] == 0)
    }

    // MARK: Plugin faults during infer

    @Test(arguments: InferFault.all)
    func pluginFaultBecomesModelHostError(fault: InferFault) async throws {
        let models = try ModelsDirectory()
        let source = FixtureSource.make(infer: fault.infer)
        let loaded = try PluginLoader().load(bundleAt: await FixtureBundle.make(fault.name, source: source, in: models, outputs: fault.outputs.map { $0 as [String: Any] }))
        defer { loaded.instance.destroy() }

        let error = try #require(inferError(loaded.instance, [FixtureBundle.input()]))
        #expect(error.code == fault.code, "\(error)")
        #expect(error.modelVersion == "1.0.0")
        #expect(error.message.contains("model \"\(fault.name)\""))
        for fragment in fault.fragments {
            #expect(error.message.contains(fragment), "\(error.message) should contain \(fragment)")
        }
    }

    @Test func instanceServesAgainAfterAPluginFault() async throws {
        // The plugin fails when x[0] is negative and echoes otherwise.
        let source = FixtureSource.make(infer: """
            const float *x = inputs[0].data;
            if (x[0] < 0) { mh_error_set(error, "negative"); return MH_ERROR_INTERNAL; }
            void *out = sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, inputs[0].shape, inputs[0].rank, inputs[0].byte_size);
            if (out == NULL) { mh_error_set(error, "refused"); return MH_ERROR_INTERNAL; }
            memcpy(out, inputs[0].data, inputs[0].byte_size);
            return MH_OK;
            """)
        let models = try ModelsDirectory()
        let loaded = try PluginLoader().load(bundleAt: await FixtureBundle.make("recovers", source: source, in: models))
        defer { loaded.instance.destroy() }

        #expect(inferError(loaded.instance, [FixtureBundle.input(-1)])?.code == .pluginError)
        let outputs = try loaded.instance.infer([FixtureBundle.input(3)], context: .unbounded).get()
        #expect(outputs == [try Tensor(name: "y", datatype: .fp32, shape: [1], data: floatBytes([3]))])
    }
}

// MARK: - Fixtures

/// A plugin library that fails to load, and how the loader must say so.
struct LoadFailure: Sendable, CustomTestStringConvertible {
    var name: String
    var source: String
    var hasWarmup = false
    var code: BundleError.Code
    var fragments: [String]

    var testDescription: String { name }

    static let all: [LoadFailure] = [
        LoadFailure(
            name: "no-entry", source: FixtureSource.make(entry: nil),
            code: .entryMissing, fragments: ["\"no-entry\"", "does not export modelhost_plugin_entry"]
        ),
        LoadFailure(
            name: "abi-two", source: FixtureSource.make(major: "2", minor: "3"),
            code: .abiMismatch, fragments: ["built for plugin ABI 2.3", "this host speaks 1.1"]
        ),
        LoadFailure(
            name: "short-table", source: FixtureSource.make(structSize: "12"),
            code: .abiMismatch, fragments: ["table of 12 bytes", "needs at least 40"]  // three UInt32s, padding, three pointers
        ),
        LoadFailure(
            name: "null-infer", source: FixtureSource.make(inferField: "NULL"),
            code: .abiMismatch, fragments: ["leaves create, infer or destroy empty"]
        ),
        LoadFailure(
            name: "null-table", source: FixtureSource.make(entry: "return NULL;"),
            code: .abiMismatch, fragments: ["returned no table"]
        ),
        LoadFailure(
            name: "create-fails",
            source: FixtureSource.make(create: #"mh_error_set(error, "weights file %s is corrupt", "w.bin"); return MH_ERROR_INTERNAL;"#),
            code: .createFailed, fragments: ["\"create-fails\"", "weights file w.bin is corrupt"]
        ),
        LoadFailure(
            name: "create-no-instance", source: FixtureSource.make(create: "return MH_OK;"),
            code: .createFailed, fragments: ["reported success but returned no instance"]
        ),
        LoadFailure(
            name: "warmup-fails",
            source: FixtureSource.make(infer: #"mh_error_set(error, "cold model"); return MH_ERROR_INTERNAL;"#),
            hasWarmup: true, code: .warmupFailed, fragments: ["warmup sample 0 failed", "cold model"]
        ),
    ]
}

/// A plugin that misbehaves during `infer`, and the error the host must turn it into.
struct InferFault: Sendable, CustomTestStringConvertible {
    var name: String
    var infer: String
    var code: ModelHostError.Code
    var fragments: [String]
    /// The manifest's outputs, as JSON.
    var outputs: [[String: any Sendable]] = [["name": "y", "datatype": "FP32", "shape": [-1], "required": false]]

    var testDescription: String { name }

    static let all: [InferFault] = [
        InferFault(
            name: "invalid-input", infer: #"mh_error_set(error, "x must be positive"); return MH_ERROR_INVALID_INPUT;"#,
            code: .pluginRefusedInput, fragments: ["refused the input", "x must be positive"]
        ),
        InferFault(
            name: "unavailable", infer: #"mh_error_set(error, "GPU busy"); return MH_ERROR_UNAVAILABLE;"#,
            code: .unavailable, fragments: ["temporarily unavailable", "GPU busy"]
        ),
        InferFault(
            name: "internal", infer: #"mh_error_set(error, "matrix is singular"); return MH_ERROR_INTERNAL;"#,
            code: .pluginError, fragments: ["failed", "matrix is singular"]
        ),
        InferFault(
            name: "status-42", infer: #"mh_error_set(error, "odd status"); return (mh_status)42;"#,
            code: .pluginError, fragments: ["odd status"]
        ),
        InferFault(
            name: "no-message", infer: "return MH_ERROR_INTERNAL;",
            code: .pluginError, fragments: ["(no message)"]
        ),
        InferFault(
            name: "allocates-twice",
            infer: """
                int64_t shape[1] = {1};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, 4);
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, 4);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["output \"y\" was allocated twice"]
        ),
        InferFault(
            name: "unknown-datatype",
            infer: """
                int64_t shape[1] = {1};
                sink->allocate_output(sink->host_context, "y", 99, shape, 1, 4);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["output \"y\" has unknown datatype code 99"]
        ),
        InferFault(
            name: "size-mismatch",
            infer: """
                int64_t shape[1] = {2};
                float *out = sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, 4);
                if (out != NULL) out[0] = 1;
                return MH_OK;
                """,
            code: .pluginError, fragments: ["wrote an invalid output", "\"y\"", "needs 8 bytes, not 4"]
        ),
        InferFault(
            name: "rank-minus-one",
            infer: """
                int64_t shape[1] = {1};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, (size_t)-1, 4);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["output \"y\" has rank 18446744073709551615, outside 0...32"]
        ),
        InferFault(
            name: "rank-33",
            infer: """
                int64_t shape[33] = {0};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 33, 0);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["rank 33, outside 0...32"]
        ),
        InferFault(
            name: "byte-size-minus-one",
            infer: """
                int64_t shape[1] = {1};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, (size_t)-1);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["byte size 18446744073709551615, larger than the host accepts"]
        ),
        InferFault(
            name: "shape-overflow",
            infer: """
                int64_t shape[2] = {INT64_MAX, 4};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 2, 16);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["a shape with too many elements"]
        ),
        InferFault(
            name: "over-the-total-cap",
            infer: """
                int64_t shape[1] = {200000000};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, 800000000);
                sink->allocate_output(sink->host_context, "z", MH_DATATYPE_FP32, shape, 1, 800000000);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["output \"z\" takes the call's outputs over 1073741824 bytes"],
            outputs: [["name": "y", "datatype": "FP32", "shape": [-1]], ["name": "z", "datatype": "FP32", "shape": [-1]]]
        ),
        InferFault(
            name: "bytes-too-short",
            infer: """
                int64_t shape[1] = {3};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_BYTES, shape, 1, 8);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["3 BYTES elements needs at least 12 bytes, not 8"],
            outputs: [["name": "y", "datatype": "BYTES", "shape": [-1]]]
        ),
        InferFault(
            name: "ok-without-outputs", infer: "return MH_OK;",
            code: .pluginError, fragments: ["did not produce output \"y\", which the manifest declares"],
            outputs: [["name": "y", "datatype": "FP32", "shape": [-1]]]
        ),
        InferFault(
            name: "undeclared-output",
            infer: "return fixture_write_int(sink, \"surprise\", 1, error);",
            code: .pluginError, fragments: ["produced output \"surprise\", which the manifest does not declare (outputs: y)"]
        ),
        InferFault(
            name: "wrong-datatype",
            infer: "return fixture_write_int(sink, \"y\", 1, error);",
            code: .pluginError, fragments: ["output \"y\" is INT32, the manifest declares FP32"]
        ),
        InferFault(
            name: "negative-dimension",
            infer: """
                int64_t shape[1] = {-1};
                sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, shape, 1, 4);
                return MH_OK;
                """,
            code: .pluginError, fragments: ["output \"y\" has a negative dimension"]
        ),
    ]
}

/// The loader's refusal of the bundle at `directory`, or `nil` when it loads (its instance is
/// then destroyed).
func loadError(_ directory: String) -> BundleError? {
    do {
        try PluginLoader().load(bundleAt: directory).instance.destroy()
        return nil
    } catch {
        return error
    }
}

/// The error `infer` ends in, or `nil` when it succeeds.
func inferError(_ instance: PluginInstance, _ inputs: [Tensor]) -> ModelHostError? {
    if case .failure(let error) = instance.infer(inputs, context: .unbounded) { return error }
    return nil
}

/// The INT64 elements of the only output.
func int64s(_ outputs: [Tensor]) throws -> [Int64] {
    let output = try #require(outputs.first)
    try #require(output.datatype == .int64)
    return output.data.withUnsafeBytes { raw in
        (0..<raw.count / 8).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    }
}
