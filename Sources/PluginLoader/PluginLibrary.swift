import CModelHostPlugin
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plugin library mapped into the host with `dlopen`, and the ABI table it exports.
///
/// Libraries stay mapped for the life of the process: Swift plugins register type metadata with
/// the runtime when loaded, which makes unloading them unsafe. Instances, and the memory they
/// hold, are released when their version shuts down.
public struct PluginLibrary: @unchecked Sendable {
    // Safe: the table is a copy of immutable ABI data (version numbers, capability bits and C
    // function pointers into a library that is never unloaded); it is only ever read.
    let api: mh_plugin_api
    /// The library's path.
    public let path: String
    /// The ABI version the plugin was built against.
    public let abiVersion: (major: UInt32, minor: UInt32)

    /// The ABI version this host implements.
    public static let hostABIMajor = UInt32(MH_ABI_VERSION_MAJOR)
    /// The minor ABI version this host implements.
    public static let hostABIMinor = UInt32(MH_ABI_VERSION_MINOR)

    /// The size of an ABI 1.0 table: the smallest this host accepts.
    static let minimumTableSize = MemoryLayout<mh_plugin_api>.offset(of: \mh_plugin_api.capabilities)!

    /// Whether the plugin accepts batched calls (ABI 1.1, `MH_CAPABILITY_BATCHING`).
    public var supportsBatching: Bool { api.capabilities & UInt64(MH_CAPABILITY_BATCHING) != 0 }

    /// Maps the library, finds the entry symbol and checks the table it returns.
    ///
    /// Runs the library's constructors and its entry function: call it only on a thread the host
    /// owns for the plugin's version.
    ///
    /// - Parameters:
    ///   - path: The library inside a verified bundle.
    ///   - bundle: The bundle directory, for errors.
    ///   - pluginName: The model's name, for errors.
    static func open(path: String, bundle: String, pluginName: String) throws(BundleError) -> PluginLibrary {
        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw BundleError(.loadFailed, bundle: bundle, "dlopen failed: \(reason)")
        }
        guard let symbol = dlsym(handle, MH_PLUGIN_ENTRY_SYMBOL) else {
            throw BundleError(
                .entryMissing, bundle: bundle,
                "plugin \"\(pluginName)\" does not export \(MH_PLUGIN_ENTRY_SYMBOL); export it from C, or from Swift with @_cdecl and PluginExport"
            )
        }
        let entry = unsafeBitCast(symbol, to: mh_plugin_entry_fn.self)
        guard let table = entry() else {
            throw BundleError(.abiMismatch, bundle: bundle, "plugin \"\(pluginName)\": \(MH_PLUGIN_ENTRY_SYMBOL) returned no table")
        }
        let api = try readTable(UnsafeRawPointer(table), bundle: bundle, pluginName: pluginName)
        return PluginLibrary(api: api, path: path, abiVersion: (api.abi_version_major, api.abi_version_minor))
    }

    /// Copies the part of a plugin's table that its `struct_size` covers, field by field, into a
    /// table of this host's layout whose other fields are zero.
    ///
    /// Only the three version fields are read before `struct_size` is known to cover more: every
    /// ABI version shares them.
    static func readTable(_ table: UnsafeRawPointer, bundle: String, pluginName: String) throws(BundleError) -> mh_plugin_api {
        let versionFields = table.assumingMemoryBound(to: UInt32.self)
        let major = versionFields[0]
        let minor = versionFields[1]
        let size = Int(versionFields[2])
        guard major == hostABIMajor else {
            throw BundleError(
                .abiMismatch, bundle: bundle,
                "plugin \"\(pluginName)\" was built for plugin ABI \(major).\(minor), this host speaks \(hostABIMajor).\(hostABIMinor); rebuild the plugin against modelhost_plugin.h \(hostABIMajor).x"
            )
        }
        guard size >= minimumTableSize else {
            throw BundleError(
                .abiMismatch, bundle: bundle,
                "plugin \"\(pluginName)\" exports a table of \(size) bytes, ABI \(hostABIMajor).0 needs at least \(minimumTableSize); rebuild the plugin against the current header"
            )
        }
        var api = mh_plugin_api()
        withUnsafeMutableBytes(of: &api) { copy in
            // ABI 1.0, then each later field only if the plugin's table holds all of it.
            copy.copyMemory(from: UnsafeRawBufferPointer(start: table, count: minimumTableSize))
            for (offset, width) in laterFields where offset + width <= size {
                UnsafeMutableRawBufferPointer(rebasing: copy[offset..<(offset + width)])
                    .copyMemory(from: UnsafeRawBufferPointer(start: table + offset, count: width))
            }
        }
        guard api.create != nil, api.destroy != nil, api.infer != nil || api.infer_with_context != nil else {
            throw BundleError(.abiMismatch, bundle: bundle, "plugin \"\(pluginName)\" leaves create, infer or destroy empty in its table")
        }
        return api
    }

    /// Offset and width of every field after ABI 1.0's, in table order.
    private static let laterFields: [(offset: Int, width: Int)] = [
        (MemoryLayout<mh_plugin_api>.offset(of: \mh_plugin_api.capabilities)!, MemoryLayout<UInt64>.size),
        (MemoryLayout<mh_plugin_api>.offset(of: \mh_plugin_api.infer_with_context)!, MemoryLayout<UnsafeRawPointer?>.size),
    ]
}
