import AnomalyDetectorModel
import PluginKit

// The library's one exported symbol, in a target of its own so that tests link the detector
// without a definition of it.

/// The plugin ABI's entry point: the table through which the host creates and calls ``AnomalyDetector``.
@_cdecl("modelhost_plugin_entry")
public func modelhostPluginEntry() -> UnsafeRawPointer { PluginExport.table(for: AnomalyDetector.self) }
