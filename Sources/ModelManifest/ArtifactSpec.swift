import ModelHostCore

/// A file of the bundle that the plugin reads, such as its weights, and the SHA-256 the host
/// checks before any plugin code runs: one entry of the manifest's `artifacts`.
public struct ArtifactSpec: Sendable, Hashable, Decodable {
    /// The file's path relative to the bundle directory: `/`-separated components, none of them
    /// empty, `.` or `..`, and not absolute, so it cannot name anything outside the bundle.
    public var path: String
    /// The file's SHA-256, as 64 lowercase hexadecimal characters; empty in a source manifest
    /// that `modelhost bundle` has not filled in yet.
    public var sha256: String

    /// Creates an entry.
    ///
    /// - Parameters:
    ///   - path: The file's path inside the bundle.
    ///   - sha256: Its SHA-256 in lowercase hexadecimal, or empty.
    public init(path: String, sha256: String) {
        self.path = path
        self.sha256 = sha256
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case path, sha256
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        guard Self.isInsideBundle(path) else {
            throw container.invalid(.path, "must be a relative path inside the bundle: not absolute, no empty, '.' or '..' components")
        }
        sha256 = try container.decode(String.self, forKey: .sha256)
        guard Manifest.isValidDigest(sha256) else {
            throw container.invalid(.sha256, "must be 64 lowercase hexadecimal characters")
        }
    }

    /// Whether `path` names a file inside the bundle by its text alone: relative, and every
    /// component a real name.
    static func isInsideBundle(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/") else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != "" && $0 != "." && $0 != ".." }
    }
}
