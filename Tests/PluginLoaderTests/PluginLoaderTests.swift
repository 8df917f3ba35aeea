import Foundation
import ModelHostCore
import ModelHostTestKit
import ModelManifest
import PluginLoader
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Loading plugins with `dlopen`: the real echo plugin, and C fixtures that each misbehave in
/// exactly one way.
struct PluginLoaderTests {
    // MARK: The echo plugin

    @Test func echoPluginReturnsItsInputs() async throws {
        let models = try ModelsDirectory()
        let loaded = try await PluginLoader().load(bundleAt: models.addExample("echo"))
        #expect(loaded.manifest.name == "echo")
        #expect(loaded.instance.name == "echo")
        #expect(loaded.instance.version.description == "1.0.0")

        let inputs = [
            try Tensor(name: "input0", datatype: .fp32, shape: [2, 2], data: floatBytes([1.5, -2, 0, 1e9])),
            try Tensor(name: "text", shape: [3], strings: ["hello", "", "wörld ✓"]),
        ]
        let outputs = try await loaded.instance.infer(inputs)
        #expect(outputs.map(\.name) == ["input0", "text"])
        #expect(outputs.map(\.datatype) == [.fp32, .bytes])
        #expect(outputs.map(\.shape) == [[2, 2], [3]])
        #expect(outputs.map(\.data) == inputs.map(\.data))
        #expect(outputs[1].byteElements.map { String(decoding: $0, as: UTF8.self) } == ["hello", "", "wörld ✓"])
    }

    @Test func echoPluginReceivesTheManifestConfig() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo") { $0["config"] = ["outputPrefix": "echo_"] }
        let loaded = try await PluginLoader().load(bundleAt: directory)
        let outputs = try await loaded.instance.infer([Tensor(name: "input0", datatype: .fp32, shape: [1], data: floatBytes([7]))])
        #expect(outputs.map(\.name) == ["echo_input0"])
        #expect(outputs.first?.data == floatBytes([7]))
    }

    @Test func echoPluginWithABadConfigFailsToCreate() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo") { $0["config"] = ["outputPrefix": String(repeating: "p", count: 100)] }
        let error = try #require(await loadError(directory))
        #expect(error.code == .createFailed)
        #expect(error.message.contains("config.outputPrefix must be a string shorter than 64 bytes"))
    }

    @Test func verificationRunsBeforeLoading() async throws {
        let models = try ModelsDirectory()
        let directory = try models.addExample("echo")
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory)
        #expect(await loadError(directory)?.code == .insecurePermissions)
    }

    // MARK: Libraries the loader refuses

    @Test(arguments: LoadFailure.all)
    func refusesBrokenPlugin(failure: LoadFailure) async throws {
        let models = try ModelsDirectory()
        let directory = try FixtureBundle.make(failure.name, source: failure.source, in: models, warmup: failure.hasWarmup)
        let error = try #require(await loadError(directory))
        #expect(error.code == failure.code, "\(error)")
        #expect(error.bundle == directory)
        for fragment in failure.fragments {
            #expect(error.message.contains(fragment), "\(error.message) should contain \(fragment)")
        }
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
        let error = try #require(await loadError(FixtureBundle.make("guarded-table", source: source, in: models)))
        #expect(error.code == .abiMismatch)
        #expect(error.message.contains("table of 12 bytes"))
    }

    @Test func refusesLibraryThatIsNotASharedObject() async throws {
        let models = try ModelsDirectory()
        let garbage = models.path + "/.garbage.so"
        var generator = SystemRandomNumberGenerator()
        try Data((0..<4096).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).write(to: URL(fileURLWithPath: garbage))
        let directory = try models.addBundle(manifest: FixtureBundle.manifest("garbage"), library: garbage)

        let error = try #require(await loadError(directory))
        #expect(error.code == .loadFailed)
        #expect(error.message.contains("dlopen failed"))
    }

    // MARK: Plugin faults during infer

    @Test(arguments: InferFault.all)
    func pluginFaultBecomesModelHostError(fault: InferFault) async throws {
        let models = try ModelsDirectory()
        let source = FixtureSource.make(infer: fault.infer)
        let loaded = try await PluginLoader().load(bundleAt: FixtureBundle.make(fault.name, source: source, in: models))

        let error = try #require(await inferError(loaded.instance, [FixtureBundle.input()]))
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
        let loaded = try await PluginLoader().load(bundleAt: FixtureBundle.make("recovers", source: source, in: models))

        #expect(await inferError(loaded.instance, [FixtureBundle.input(-1)])?.code == .pluginError)
        let outputs = try await loaded.instance.infer([FixtureBundle.input(3)])
        #expect(outputs == [try Tensor(name: "y", datatype: .fp32, shape: [1], data: floatBytes([3]))])
    }

    // MARK: Threads

    @Test func pluginCodeRunsOnThreadsOfItsOwn() async throws {
        // Reports the kernel thread ids that ran `create` and this `infer`.
        let source = FixtureSource.make(
            prelude: "static int64_t create_thread = 0;",
            create: "create_thread = (int64_t)syscall(SYS_gettid); *out_instance = &fixture_token; return MH_OK;",
            infer: """
                int64_t shape[1] = {2};
                int64_t *out = sink->allocate_output(sink->host_context, "threads", MH_DATATYPE_INT64, shape, 1, 2 * sizeof(int64_t));
                if (out == NULL) { mh_error_set(error, "refused"); return MH_ERROR_INTERNAL; }
                out[0] = create_thread;
                out[1] = (int64_t)syscall(SYS_gettid);
                return MH_OK;
                """
        )
        let models = try ModelsDirectory()
        let instance = try await PluginLoader().load(bundleAt: FixtureBundle.make("threads", source: source, in: models)).instance

        var pluginThreads: Set<Int64> = []
        for _ in 0..<4 {
            let caller = try currentThreadID()
            let outputs = try await instance.infer([FixtureBundle.input()])
            let threads = try #require(outputs.first).data.withUnsafeBytes { raw in
                (0..<raw.count / 8).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
            }
            #expect(threads.count == 2)
            #expect(!threads.contains(caller), "plugin code ran on the calling thread \(caller)")
            pluginThreads.formUnion(threads)
        }
        // With maxConcurrency 1 the instance has exactly one thread, which also ran `create`.
        #expect(pluginThreads.count == 1)
    }

    @Test func concurrentCallsNeverExceedMaxConcurrency() async throws {
        // Counts the calls in flight and reports the most it has seen.
        let source = FixtureSource.make(
            prelude: "static int in_flight = 0; static int most_seen = 0;",
            infer: """
                int now = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
                int seen = __atomic_load_n(&most_seen, __ATOMIC_SEQ_CST);
                while (now > seen && !__atomic_compare_exchange_n(&most_seen, &seen, now, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {}
                usleep(20000);
                __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
                return fixture_write_int(sink, "most_seen", __atomic_load_n(&most_seen, __ATOMIC_SEQ_CST), error);
                """
        )
        let models = try ModelsDirectory()
        let directory = try FixtureBundle.make("counted", source: source, in: models, limits: ["maxConcurrency": 2])
        let instance = try await PluginLoader().load(bundleAt: directory).instance

        let mostSeen = try await withThrowingTaskGroup(of: Int32.self) { group in
            for _ in 0..<8 {
                group.addTask { try int32(of: await instance.infer([FixtureBundle.input()])) }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        #expect(mostSeen >= 1)
        #expect(mostSeen <= 2)
    }

    @Test func callsUpToMaxConcurrencyRunTogether() async throws {
        // Each call waits (up to 5 s) until two calls have arrived, and reports whether they did.
        let source = FixtureSource.make(
            prelude: "static int arrived = 0;",
            infer: """
                __atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
                int met = 0;
                for (int i = 0; i < 5000 && !met; i++) {
                    met = __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) >= 2;
                    if (!met) usleep(1000);
                }
                return fixture_write_int(sink, "met", met, error);
                """
        )
        let models = try ModelsDirectory()
        let directory = try FixtureBundle.make("barrier", source: source, in: models, limits: ["maxConcurrency": 2])
        let instance = try await PluginLoader().load(bundleAt: directory).instance

        async let first = instance.infer([FixtureBundle.input()])
        async let second = instance.infer([FixtureBundle.input()])
        #expect(try await [int32(of: first), int32(of: second)] == [1, 1])
    }

    @Test func fullQueueRefusesCallsAsOverloaded() async throws {
        // Every call blocks until the test opens the gate (or 10 s pass).
        let source = FixtureSource.make(
            prelude: """
                static int gate_open = 0;
                __attribute__((visibility("default"))) void fixture_open_gate(void) { __atomic_store_n(&gate_open, 1, __ATOMIC_SEQ_CST); }
                """,
            infer: """
                for (int i = 0; i < 10000 && !__atomic_load_n(&gate_open, __ATOMIC_SEQ_CST); i++) usleep(1000);
                return MH_OK;
                """
        )
        let models = try ModelsDirectory()
        let directory = try FixtureBundle.make("gated", source: source, in: models, limits: ["maxConcurrency": 1, "maxQueue": 1])
        let loaded = try await PluginLoader().load(bundleAt: directory)
        let instance = loaded.instance
        let openGate = try FixtureBundle.function("fixture_open_gate", inLibrary: loaded.directory + "/libgated.so")

        // At most one call runs and one waits in the queue (only one when the thread has not yet
        // gone idle after `create`); the others are refused at once. Accepted calls cannot finish
        // before the gate opens, so the first four results are refusals.
        let calls = 6
        var results: [Result<[Tensor], ModelHostError>] = []
        await withTaskGroup(of: Result<[Tensor], ModelHostError>.self) { group in
            for _ in 0..<calls {
                group.addTask {
                    do throws(ModelHostError) {
                        return .success(try await instance.infer([FixtureBundle.input()]))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            for await result in group {
                results.append(result)
                if results.count == calls - 2 { openGate() }
            }
        }
        openGate()

        #expect(results.count == calls)
        for result in results.prefix(calls - 2) {
            guard case .failure = result else {
                Issue.record("a call completed while the gate was closed")
                continue
            }
        }
        var completed = 0
        for result in results {
            switch result {
            case .success(let outputs):
                completed += 1
                #expect(outputs.isEmpty)
            case .failure(let error):
                #expect(error.code == .unavailable)
                #expect(error.message.contains("is overloaded: its queue is full"))
                #expect(error.modelVersion == "1.0.0")
            }
        }
        #expect((1...2).contains(completed), "\(completed) calls were admitted")
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
            code: .abiMismatch, fragments: ["built for plugin ABI 2.3", "this host speaks 1.0"]
        ),
        LoadFailure(
            name: "short-table", source: FixtureSource.make(structSize: "12"),
            code: .abiMismatch, fragments: ["table of 12 bytes", "needs 40"]  // three UInt32s, padding, three pointers
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

    var testDescription: String { name }

    static let all: [InferFault] = [
        InferFault(
            name: "invalid-input", infer: #"mh_error_set(error, "x must be positive"); return MH_ERROR_INVALID_INPUT;"#,
            code: .validation, fragments: ["refused the input", "x must be positive"]
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
            code: .pluginError, fragments: ["wrote an invalid output", "\"y\"", "needs 8 bytes, got 4"]
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

/// C source for a fixture plugin; every part defaults to a plugin that works.
enum FixtureSource {
    static func make(
        prelude: String = "",
        create: String = "*out_instance = &fixture_token; return MH_OK;",
        infer: String = "return MH_OK;",
        major: String = "MH_ABI_VERSION_MAJOR",
        minor: String = "MH_ABI_VERSION_MINOR",
        structSize: String = "sizeof(mh_plugin_api)",
        inferField: String = "fixture_infer",
        entry: String? = "return &fixture_api;"
    ) -> String {
        let entryFunction = entry.map {
            #"__attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) { \#($0) }"#
        } ?? ""
        return """
            #define _GNU_SOURCE
            #include <stdlib.h>
            #include <string.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            #include "modelhost_plugin.h"

            static int fixture_token;

            static mh_status fixture_write_int(const mh_output_sink *sink, const char *name, int32_t value, mh_error *error) {
                int64_t shape[1] = {1};
                int32_t *out = sink->allocate_output(sink->host_context, name, MH_DATATYPE_INT32, shape, 1, sizeof(int32_t));
                if (out == NULL) { mh_error_set(error, "the host refused %s", name); return MH_ERROR_INTERNAL; }
                *out = value;
                return MH_OK;
            }

            \(prelude)

            static mh_status fixture_create(const char *config_json, size_t config_length, const char *bundle_directory,
                                            void **out_instance, mh_error *error) {
                \(create)
            }

            static mh_status fixture_infer(void *instance, const mh_tensor *inputs, size_t input_count,
                                           const mh_output_sink *sink, mh_error *error) {
                \(infer)
            }

            static void fixture_destroy(void *instance) { (void)instance; }

            static const mh_plugin_api fixture_api = {
                .abi_version_major = \(major),
                .abi_version_minor = \(minor),
                .struct_size = \(structSize),
                .create = fixture_create,
                .infer = \(inferField),
                .destroy = fixture_destroy,
            };

            \(entryFunction)
            """
    }
}

/// Bundles around compiled fixtures.
enum FixtureBundle {
    /// A manifest for fixture `name`: one FP32 input `x` of any length.
    static func manifest(_ name: String, limits: [String: Any] = [:], warmup: Bool = false) -> [String: Any] {
        var manifest: [String: Any] = [
            "manifestVersion": 1,
            "name": name,
            "version": "1.0.0",
            "library": "lib\(name).so",
            "sha256": "",
            "abiVersion": 1,
            "inputs": [["name": "x", "datatype": "FP32", "shape": [-1]]],
            "outputs": [["name": "y", "datatype": "FP32", "shape": [-1]]],
            "limits": limits,
        ]
        if warmup {
            manifest["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1], "data": [1]]]]]
        }
        return manifest
    }

    /// Compiles `source` and puts it in a bundle `<models>/<name>/1.0.0/`.
    static func make(_ name: String, source: String, in models: ModelsDirectory, limits: [String: Any] = [:], warmup: Bool = false) throws -> String {
        let library = try CFixture.compile(source, name: name)
        return try models.addBundle(manifest: manifest(name, limits: limits, warmup: warmup), library: library)
    }

    /// The input every fixture takes: `x`, one FP32 element.
    static func input(_ value: Float = 1) -> Tensor {
        // A one-element FP32 tensor always matches its shape.
        try! Tensor(name: "x", datatype: .fp32, shape: [1], data: floatBytes([value]))
    }

    /// A `void (void)` function exported by a library the loader has already mapped.
    static func function(_ symbol: String, inLibrary path: String) throws -> @Sendable () -> Void {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD) else {
            throw TestKitError("\(path) is not loaded")
        }
        guard let address = dlsym(handle, symbol) else {
            throw TestKitError("\(path) does not export \(symbol)")
        }
        let function = unsafeBitCast(address, to: (@convention(c) () -> Void).self)
        return { function() }
    }
}

/// The loader's refusal of the bundle at `directory`, or `nil` when it loads.
func loadError(_ directory: String) async -> BundleError? {
    do {
        _ = try await PluginLoader().load(bundleAt: directory)
        return nil
    } catch {
        return error
    }
}

/// The error `infer` ends in, or `nil` when it succeeds.
func inferError(_ instance: PluginInstance, _ inputs: [Tensor]) async -> ModelHostError? {
    do {
        _ = try await instance.infer(inputs)
        return nil
    } catch {
        return error
    }
}

/// FP32 values in the ABI layout (little-endian).
func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
}

/// The single INT32 element of the only output.
func int32(of outputs: [Tensor]) throws -> Int32 {
    let output = try #require(outputs.first)
    try #require(output.datatype == .int32 && output.data.count == 4)
    return output.data.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
}

/// The kernel id of the calling thread, from `/proc/thread-self` (`<pid>/task/<tid>`).
func currentThreadID() throws -> Int64 {
    let link = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")
    return try #require(link.split(separator: "/").last.flatMap { Int64($0) })
}

