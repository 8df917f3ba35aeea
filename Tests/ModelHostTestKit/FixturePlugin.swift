import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#endif

/// C source for a fixture plugin: a plugin that misbehaves in exactly one way. Every part
/// defaults to a plugin that works.
///
/// The source defines `fixture_token` (a valid instance), `fixture_write_int(sink, name, value,
/// error)` (writes a one-element INT32 output) and exports `fixture_creates()`,
/// `fixture_destroys()` and `fixture_infers()`, the number of calls of each so far, and
/// `fixture_thread(n)`, the kernel thread id that last ran the library's constructor (0), its
/// entry symbol (1), `create` (2), `infer` (3) and `destroy` (4).
public enum FixtureSource {
    /// The source of a plugin.
    ///
    /// - Parameters:
    ///   - prelude: Declarations placed before the functions.
    ///   - create: The body of `create`, which must set `*out_instance`.
    ///   - infer: The body of `infer` (`instance, inputs, input_count, sink, error`), or of
    ///     `infer_with_context` (with `context` too) when `withContext` is set.
    ///   - withContext: Exports `infer_with_context` (ABI 1.1) and leaves `infer` NULL.
    ///   - capabilities: The ABI 1.1 `capabilities` bits.
    ///   - major: The ABI major version the table claims.
    ///   - minor: The ABI minor version the table claims.
    ///   - structSize: The table size the table claims.
    ///   - inferField: What the table's `infer` field holds.
    ///   - entry: The entry function's body, or `nil` for a library without the entry symbol.
    public static func make(
        prelude: String = "",
        create: String = "*out_instance = &fixture_token; return MH_OK;",
        infer: String = "return MH_OK;",
        withContext: Bool = false,
        capabilities: String = "0",
        major: String = "MH_ABI_VERSION_MAJOR",
        minor: String = "MH_ABI_VERSION_MINOR",
        structSize: String = "sizeof(mh_plugin_api)",
        inferField: String? = nil,
        entry: String? = "return &fixture_api;"
    ) -> String {
        let entryFunction = entry.map {
            #"__attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) { fixture_record_thread(1); \#($0) }"#
        } ?? ""
        let inferFunction = withContext
            ? """
                static mh_status fixture_infer_with_context(void *instance, const mh_call_context *context, const mh_tensor *inputs,
                                                            size_t input_count, const mh_output_sink *sink, mh_error *error) {
                    __atomic_add_fetch(&fixture_infer_count, 1, __ATOMIC_SEQ_CST);
                    fixture_record_thread(3);
                    \(infer)
                }
                """
            : """
                static mh_status fixture_infer(void *instance, const mh_tensor *inputs, size_t input_count,
                                               const mh_output_sink *sink, mh_error *error) {
                    __atomic_add_fetch(&fixture_infer_count, 1, __ATOMIC_SEQ_CST);
                    fixture_record_thread(3);
                    \(infer)
                }
                """
        let inferEntry = inferField ?? (withContext ? "NULL" : "fixture_infer")
        return """
            #define _GNU_SOURCE
            #include <stdlib.h>
            #include <string.h>
            #include <time.h>
            #include <sys/syscall.h>
            #include <unistd.h>
            #include "modelhost_plugin.h"

            static int fixture_token;
            static int fixture_create_count = 0;
            static int fixture_destroy_count = 0;
            static int fixture_infer_count = 0;

            __attribute__((visibility("default"))) int fixture_creates(void) { return __atomic_load_n(&fixture_create_count, __ATOMIC_SEQ_CST); }
            __attribute__((visibility("default"))) int fixture_destroys(void) { return __atomic_load_n(&fixture_destroy_count, __ATOMIC_SEQ_CST); }
            __attribute__((visibility("default"))) int fixture_infers(void) { return __atomic_load_n(&fixture_infer_count, __ATOMIC_SEQ_CST); }

            static long fixture_threads[5];
            static void fixture_record_thread(int which) { __atomic_store_n(&fixture_threads[which], (long)syscall(SYS_gettid), __ATOMIC_SEQ_CST); }
            __attribute__((visibility("default"))) long fixture_thread(int which) { return __atomic_load_n(&fixture_threads[which], __ATOMIC_SEQ_CST); }
            __attribute__((constructor)) static void fixture_constructor(void) { fixture_record_thread(0); }

            static mh_status fixture_write_int(const mh_output_sink *sink, const char *name, int32_t value, mh_error *error) {
                int64_t shape[1] = {1};
                int32_t *out = sink->allocate_output(sink->host_context, name, MH_DATATYPE_INT32, shape, 1, sizeof(int32_t));
                if (out == NULL) { mh_error_set(error, "the host refused %s", name); return MH_ERROR_INTERNAL; }
                *out = value;
                return MH_OK;
            }

            \(prelude)

            static mh_status fixture_create_body(const char *config_json, size_t config_length, const char *bundle_directory,
                                                 void **out_instance, mh_error *error) {
                \(create)
            }

            static mh_status fixture_create(const char *config_json, size_t config_length, const char *bundle_directory,
                                            void **out_instance, mh_error *error) {
                fixture_record_thread(2);
                mh_status status = fixture_create_body(config_json, config_length, bundle_directory, out_instance, error);
                if (status == MH_OK && *out_instance != NULL) __atomic_add_fetch(&fixture_create_count, 1, __ATOMIC_SEQ_CST);
                return status;
            }

            \(inferFunction)

            static void fixture_destroy(void *instance) {
                (void)instance;
                fixture_record_thread(4);
                __atomic_add_fetch(&fixture_destroy_count, 1, __ATOMIC_SEQ_CST);
            }

            static const mh_plugin_api fixture_api = {
                .abi_version_major = \(major),
                .abi_version_minor = \(minor),
                .struct_size = \(structSize),
                .create = fixture_create,
                .infer = \(inferEntry),
                .destroy = fixture_destroy,
                .capabilities = \(capabilities),
                .infer_with_context = \(withContext ? "fixture_infer_with_context" : "NULL"),
            };

            \(entryFunction)
            """
    }

    /// An `infer` body that sleeps `milliseconds`, then writes its input back as output `y`.
    public static func sleepingEcho(milliseconds: Int) -> String {
        """
        usleep(\(milliseconds) * 1000);
        void *out = sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, inputs[0].shape, inputs[0].rank, inputs[0].byte_size);
        if (out == NULL) { mh_error_set(error, "refused"); return MH_ERROR_INTERNAL; }
        memcpy(out, inputs[0].data, inputs[0].byte_size);
        return MH_OK;
        """
    }

    /// An `infer` body that writes its input back as output `y`.
    public static let echo = sleepingEcho(milliseconds: 0)

    /// A prelude exporting `fixture_open_gate()`, and a statement that blocks until the gate is
    /// opened or `seconds` pass: a plugin that hangs until the test lets it go.
    public static func gate(seconds: Int) -> (prelude: String, wait: String) {
        (
            """
            static int gate_open = 0;
            __attribute__((visibility("default"))) void fixture_open_gate(void) { __atomic_store_n(&gate_open, 1, __ATOMIC_SEQ_CST); }
            """,
            "for (int i = 0; i < \(seconds * 1000) && !__atomic_load_n(&gate_open, __ATOMIC_SEQ_CST); i++) usleep(1000);"
        )
    }
}

/// Bundles around compiled fixtures.
public enum FixtureBundle {
    /// The output every fixture manifest declares unless told otherwise: `y`, FP32, optional.
    public static var defaultOutputs: [[String: Any]] { [["name": "y", "datatype": "FP32", "shape": [-1], "required": false]] }

    /// A manifest for fixture `name`: one FP32 input `x` of any length. `sections` adds or
    /// replaces top-level sections (`breaker`, `retry`, `inputs`).
    public static func manifest(
        _ name: String, limits: [String: Any] = [:], warmup: Bool = false, outputs: [[String: Any]] = defaultOutputs, version: String = "1.0.0",
        sections: [String: Any] = [:]
    ) -> [String: Any] {
        var manifest: [String: Any] = [
            "manifestVersion": 1,
            "name": name,
            "version": version,
            "library": "lib\(name).so",
            "sha256": "",
            "abiVersion": 1,
            "inputs": [["name": "x", "datatype": "FP32", "shape": [-1]]],
            "outputs": outputs,
            "limits": limits,
        ]
        if warmup {
            manifest["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": [1], "data": [1]]]]]
        }
        manifest.merge(sections) { $1 }
        return manifest
    }

    /// Compiles `source` and puts it in a bundle `<models>/<name>/<version>/`.
    @discardableResult
    public static func make(
        _ name: String, source: String, in models: ModelsDirectory, limits: [String: Any] = [:], warmup: Bool = false,
        outputs: [[String: Any]] = defaultOutputs, version: String = "1.0.0", sections: [String: Any] = [:]
    ) async throws -> String {
        let library = try await CFixture.compile(source, name: name)
        return try models.addBundle(
            manifest: manifest(name, limits: limits, warmup: warmup, outputs: outputs, version: version, sections: sections), library: library
        )
    }

    /// The input every fixture takes: `x`, one FP32 element.
    public static func input(_ value: Float = 1) -> Tensor {
        // A one-element FP32 tensor always matches its shape.
        try! Tensor(name: "x", datatype: .fp32, shape: [1], data: floatBytes([value]))
    }

    /// A `void (void)` function exported by a library the loader has already mapped.
    public static func function(_ symbol: String, inLibrary path: String) throws -> @Sendable () -> Void {
        let address = try self.address(of: symbol, inLibrary: path)
        let function = unsafeBitCast(address, to: (@convention(c) () -> Void).self)
        return { function() }
    }

    /// An `int (void)` function exported by a library the loader has already mapped, such as
    /// `fixture_destroys`.
    public static func counter(_ symbol: String, inLibrary path: String) throws -> @Sendable () -> Int {
        let address = try self.address(of: symbol, inLibrary: path)
        let function = unsafeBitCast(address, to: (@convention(c) () -> Int32).self)
        return { Int(function()) }
    }

    /// The kernel thread that last ran a fixture's constructor (0), entry (1), `create` (2),
    /// `infer` (3) or `destroy` (4); 0 if none has.
    public static func thread(_ which: Int32, inLibrary path: String) throws -> Int64 {
        let address = try self.address(of: "fixture_thread", inLibrary: path)
        let function = unsafeBitCast(address, to: (@convention(c) (Int32) -> Int).self)
        return Int64(function(which))
    }

    private static func address(of symbol: String, inLibrary path: String) throws -> UnsafeMutableRawPointer {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD) else {
            throw TestKitError("\(path) is not loaded")
        }
        guard let address = dlsym(handle, symbol) else {
            throw TestKitError("\(path) does not export \(symbol)")
        }
        return address
    }
}

/// FP32 values in the ABI layout (little-endian).
public func floatBytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
}
