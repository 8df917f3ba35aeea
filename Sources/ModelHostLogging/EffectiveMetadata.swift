import Logging

/// The metadata one log call carries: the handler's, then the provider's, then the call's own, a
/// later source winning on a shared key; an error passed to the call adds `error.message` and
/// `error.type`, as swift-log's `StreamLogHandler` does.
enum EffectiveMetadata {
    static func merge(
        handler: Logger.Metadata,
        provider: Logger.MetadataProvider?,
        call: Logger.Metadata?,
        error: (any Error)?
    ) -> Logger.Metadata {
        let provided = provider?.get() ?? [:]
        let call = call ?? [:]
        var metadata: Logger.Metadata
        // The common cases need no merging: one source alone is returned as it is.
        if provided.isEmpty && handler.isEmpty {
            metadata = call
        } else if provided.isEmpty && call.isEmpty {
            metadata = handler
        } else {
            metadata = handler
            metadata.merge(provided) { _, new in new }
            metadata.merge(call) { _, new in new }
        }
        if let error {
            metadata["error.message"] = .string("\(error)")
            metadata["error.type"] = .string(String(reflecting: type(of: error)))
        }
        return metadata
    }
}
