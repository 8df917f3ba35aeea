import Logging

/// The order a line lists metadata in: by the names' UTF-8 bytes, so that lines from one call
/// site look alike and diff cleanly, whatever order the dictionary holds them in.
enum MetadataOrder {
    /// Calls `body` with each member of `dictionary` in the order of their names.
    static func forEach(in dictionary: Logger.Metadata, _ body: (String, Logger.Metadata.Value) -> Void) {
        for (key, value) in dictionary.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            body(key, value)
        }
    }
}
