import IntentClassifierModel
import PluginKit

/// The plugin ABI's entry point: registers ``IntentClassifier`` and returns the ABI table.
///
/// It lives in a target of its own so that tests can link the model without the exported symbol.
@_cdecl("modelhost_plugin_entry")
public func modelhostPluginEntry() -> UnsafeRawPointer { PluginExport.table(for: IntentClassifier.self) }
