import Logging

/// Hides the values of fields whose names look like secrets, wherever fields or headers are
/// logged: `authorization`, `x-api-key`, `api_key`, `apikey`, `api-key`, `password`, `token`,
/// `secret` and `cookie`, in any case and anywhere in the name (`X-Auth-Token`, `db_password`).
public enum SecretRedaction {
    /// What a secret's value is replaced with.
    public static let placeholder = "[REDACTED]"

    private static let markers = ["authorization", "x-api-key", "api_key", "apikey", "api-key", "password", "token", "secret", "cookie"]

    /// The names the host itself logs on every request, known not to be secrets: checked first,
    /// so the request log pays one lookup per field.
    private static let knownSafe: Set<String> = [
        "request_id", "trace_id", "span_id", "status", "code", "model", "version", "key_id", "queue_seconds",
        "inference_seconds", "total_seconds", "event", "reason", "path", "client", "request", "key",
    ]

    /// Whether a field or header named `name` holds a secret.
    public static func isSecret(_ name: String) -> Bool {
        if knownSafe.contains(name) { return false }
        let lowered = name.lowercased()
        return markers.contains { lowered.contains($0) }
    }

    /// `metadata` with every secret's value replaced, at every depth.
    public static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var redacted = metadata
        for (key, value) in metadata {
            redacted[key] = isSecret(key) ? .string(placeholder) : redact(value)
        }
        return redacted
    }

    /// `value` with the secrets of any dictionary inside it replaced.
    public static func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .dictionary(let dictionary): .dictionary(redact(dictionary))
        case .array(let values): .array(values.map(redact))
        case .string, .stringConvertible: value
        }
    }

    /// `headers` with every secret's value replaced.
    public static func redactHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.map { (name: $0.name, value: isSecret($0.name) ? placeholder : $0.value) }
    }

    /// Whether any key at any depth of `metadata` needs redacting: the common case, none, costs
    /// no copy.
    static func needsRedaction(_ metadata: Logger.Metadata) -> Bool {
        metadata.contains { key, value in isSecret(key) || needsRedaction(value) }
    }

    private static func needsRedaction(_ value: Logger.MetadataValue) -> Bool {
        switch value {
        case .dictionary(let dictionary): needsRedaction(dictionary)
        case .array(let values): values.contains(where: needsRedaction)
        case .string, .stringConvertible: false
        }
    }
}
