import Foundation
import ModelHostCore

#if canImport(Glibc)
import Glibc
#endif

/// Bundles of the fault plugin (`plugins/testing/`, documented in its README): a real plugin the
/// package builds whose misbehaviour — slow, hung, spinning, flaky, failing, failing to create —
/// is chosen by the manifest's `config`, so tests need no compiler.
///
/// Every bundle has one FP32 input `x` and one FP32 output `y` of the same shape (y = x, or
/// y = 2x in mode `batch`). The library is copied into the bundle (the verifier refuses a
/// symlink out of it), so each bundle is a separate copy of the library when loaded from its
/// bundle, with counters of its own. A loader with a library cache maps one image for every
/// bundle of the same build: keep such bundles apart with `counterKey`.
public enum FaultBundle {
    /// Which of the two builds of the plugin a bundle holds. They differ only in the
    /// `MH_CAPABILITY_BATCHING` bit, which belongs to a library, not to an instance.
    public enum Library: String, Sendable, CaseIterable {
        /// `libFaultPlugin.so`: no capabilities; the host never batches its calls.
        case plain = "libFaultPlugin.so"
        /// `libFaultBatchPlugin.so`: declares batching; the host may join requests into one call.
        case batching = "libFaultBatchPlugin.so"

        /// The library's file name, in the build directory and in the bundle.
        public var fileName: String { rawValue }
    }

    /// A manifest for a fault bundle.
    ///
    /// - Parameters:
    ///   - name: The model's name.
    ///   - config: The plugin's `config` (see `plugins/testing/README.md`); `[:]` is mode `echo`.
    ///   - version: The model's version.
    ///   - inputShape: The shape declared for `x`, and for `y`: `[-1]` or `[-1, k]`.
    ///   - limits: The manifest's `limits`, or `nil` to leave them out.
    ///   - breaker: The manifest's `breaker`, or `nil` to leave it out.
    ///   - retry: The manifest's `retry`, or `nil` to leave it out.
    ///   - warmup: Adds one warmup sample (one row of ones); it is a call like any other, so it
    ///     counts in the plugin's counters and in mode `flaky`.
    ///   - library: The build the manifest names.
    /// - Returns: The manifest as a JSON object, with an empty `sha256`.
    public static func manifest(
        _ name: String, config: [String: Any] = [:], version: String = "1.0.0", inputShape: [Int] = [-1],
        limits: [String: Any]? = nil, breaker: [String: Any]? = nil, retry: [String: Any]? = nil,
        warmup: Bool = false, library: Library = .plain
    ) -> [String: Any] {
        var manifest: [String: Any] = [
            "manifestVersion": 1,
            "name": name,
            "version": version,
            "library": library.fileName,
            "sha256": "",
            "abiVersion": 1,
            "platform": "modelhost_c",
            "inputs": [["name": "x", "datatype": "FP32", "shape": inputShape]],
            "outputs": [["name": "y", "datatype": "FP32", "shape": inputShape]],
            "config": config,
        ]
        if let limits { manifest["limits"] = limits }
        if let breaker { manifest["breaker"] = breaker }
        if let retry { manifest["retry"] = retry }
        if warmup {
            let shape = inputShape.map { $0 < 0 ? 1 : $0 }
            let count = shape.reduce(1, *)
            manifest["warmup"] = [["inputs": [["name": "x", "datatype": "FP32", "shape": shape, "data": Array(repeating: 1, count: count)]]]]
        }
        return manifest
    }

    /// Writes a fault bundle at `<models>/<name>/<version>/`: the built library, copied in, and
    /// a manifest with its real `sha256`, with the permissions the verifier requires.
    ///
    /// - Parameters:
    ///   - name: The model's name.
    ///   - config: The plugin's `config`.
    ///   - models: The models directory.
    ///   - library: The build to copy in; `nil` picks ``Library/batching`` for mode `batch` and
    ///     ``Library/plain`` otherwise.
    ///   - Other parameters: As for ``manifest(_:config:version:inputShape:limits:breaker:retry:warmup:library:)``.
    /// - Returns: The bundle directory.
    /// - Throws: ``TestKitError`` when the build has not produced the library.
    @discardableResult
    public static func make(
        _ name: String, config: [String: Any] = [:], in models: ModelsDirectory, version: String = "1.0.0",
        inputShape: [Int] = [-1], limits: [String: Any]? = nil, breaker: [String: Any]? = nil,
        retry: [String: Any]? = nil, warmup: Bool = false, library: Library? = nil
    ) throws -> String {
        let library = library ?? (config["mode"] as? String == "batch" ? .batching : .plain)
        let manifest = manifest(
            name, config: config, version: version, inputShape: inputShape, limits: limits, breaker: breaker,
            retry: retry, warmup: warmup, library: library
        )
        return try models.addBundle(manifest: manifest, library: TestPaths.builtLibrary(library.fileName))
    }

    /// An input `x`: FP32 `values` with `shape` (default: one dimension of `values.count`).
    ///
    /// Traps when `shape` does not hold `values.count` elements: that is a broken test.
    public static func input(_ values: [Float], shape: [Int]? = nil) -> Tensor {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not hold \(values.count) values")
        // The layout holds by construction.
        return try! Tensor(name: "x", datatype: .fp32, shape: shape, data: floatBytes(values))
    }

    /// The FP32 values of a tensor, such as the plugin's output `y`.
    public static func values(of tensor: Tensor) -> [Float] {
        tensor.data.withUnsafeBytes { bytes in
            (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// The counters of one `counterKey` in the copy of the fault plugin a bundle holds, read live
/// through the functions the library exports (`fault_calls`, `fault_batch_rows`, ...).
///
/// The library must already be mapped — loaded by the host, in this process — for the
/// counters to be found: they are looked up with `dlopen(RTLD_NOLOAD)` and `dlsym`.
public struct FaultCounters: @unchecked Sendable {
    // Safe: only immutable C function pointers into a library that is never unloaded (the host
    // keeps every plugin library mapped), and the key; the C functions are thread-safe (atomics).
    private typealias Reader = @convention(c) (UnsafePointer<CChar>?) -> Int64
    private typealias Action = @convention(c) (UnsafePointer<CChar>?) -> Void

    /// The library read.
    public let library: String
    /// The `counterKey` read; `""` is the key of a config without one.
    public let key: String
    private let readers: [String: Reader]
    private let actions: [String: Action]

    /// Finds the counters of `key` in the fault library of the bundle at `directory`.
    ///
    /// - Throws: ``TestKitError`` when neither fault library of the bundle is loaded.
    public init(bundle directory: String, key: String = "") throws {
        // The loader maps the library by its real path, which is the name dlopen matches.
        let candidates = FaultBundle.Library.allCases.compactMap { Self.realPath("\(directory)/\($0.fileName)") }
        guard let (path, handle) = candidates.lazy.compactMap({ path in dlopen(path, RTLD_NOW | RTLD_NOLOAD).map { (path, $0) } }).first else {
            throw TestKitError("no fault library of \(directory) is loaded; load the bundle first")
        }
        func symbol(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let address = dlsym(handle, name) else { throw TestKitError("\(path) does not export \(name)") }
            return address
        }
        var readers: [String: Reader] = [:]
        for name in ["fault_create_attempts", "fault_creates", "fault_destroys", "fault_calls", "fault_finished", "fault_batch_calls", "fault_batch_rows"] {
            readers[name] = unsafeBitCast(try symbol(name), to: Reader.self)
        }
        var actions: [String: Action] = [:]
        for name in ["fault_reset", "fault_release_hangs"] {
            actions[name] = unsafeBitCast(try symbol(name), to: Action.self)
        }
        self.library = path
        self.key = key
        self.readers = readers
        self.actions = actions
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private func read(_ name: String) -> Int {
        Int(key.withCString { readers[name]!($0) })
    }

    /// Creates that got past reading their config (what `failCreateTimes` counts).
    public var createAttempts: Int { read("fault_create_attempts") }
    /// Creates that returned an instance.
    public var creates: Int { read("fault_creates") }
    /// Destroys of those instances.
    public var destroys: Int { read("fault_destroys") }
    /// Calls that started, in any mode.
    public var calls: Int { read("fault_calls") }
    /// Calls that returned, whatever their status.
    public var finished: Int { read("fault_finished") }
    /// Mode `batch`: calls seen.
    public var batchCalls: Int { read("fault_batch_calls") }
    /// Mode `batch`: rows (the first dimension of `x`) seen over all calls.
    public var batchRows: Int { read("fault_batch_rows") }

    /// Sets every counter of the key back to 0.
    public func reset() {
        key.withCString { actions["fault_reset"]!($0) }
    }

    /// Lets every mode `hang` call of the key that is blocked now return, answering y = x.
    public func releaseHangs() {
        key.withCString { actions["fault_release_hangs"]!($0) }
    }
}
