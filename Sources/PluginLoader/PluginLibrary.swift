import CModelHostPlugin
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plugin library mapped into the host with `dlopen`, and the ABI table it exports.
///
/// Libraries stay mapped for the life of the process: Swift plugins register type metadata with
/// the runtime when loaded, which makes unloading them unsafe. Instances, and the memory they
/// hold, are released when their version is dropped.
struct PluginLibrary: @unchecked Sendable {
    // Safe: the table is immutable ABI data (version numbers and C function pointers) owned by the
    // library, which is never unloaded; it is only ever read.
    let api: mh_plugin_api
    let path: String

    /// The ABI version this host implements.
    static let hostABIMajor = UInt32(MH_ABI_VERSION_MAJOR)
    static let hostABIMinor = UInt32(MH_ABI_VERSION_MINOR)

    /// Maps the library, finds the entry symbol and checks the table it returns.
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
        // Read the three version fields first: they are the only ones every ABI version shares.
        let major = table.pointee.abi_version_major
        let minor = table.pointee.abi_version_minor
        guard major == hostABIMajor else {
            throw BundleError(
                .abiMismatch, bundle: bundle,
                "plugin \"\(pluginName)\" was built for plugin ABI \(major).\(minor), this host speaks \(hostABIMajor).\(hostABIMinor); rebuild the plugin against modelhost_plugin.h \(hostABIMajor).x"
            )
        }
        let needed = MemoryLayout<mh_plugin_api>.size
        guard Int(table.pointee.struct_size) >= needed else {
            throw BundleError(
                .abiMismatch, bundle: bundle,
                "plugin \"\(pluginName)\" exports a table of \(table.pointee.struct_size) bytes, ABI \(hostABIMajor).\(hostABIMinor) needs \(needed); rebuild the plugin against the current header"
            )
        }
        let api = table.pointee
        guard api.create != nil, api.infer != nil, api.destroy != nil else {
            throw BundleError(.abiMismatch, bundle: bundle, "plugin \"\(pluginName)\" leaves create, infer or destroy empty in its table")
        }
        return PluginLibrary(api: api, path: path)
    }
}
