import Foundation
import ModelHostCore

/// Manifest v1: everything the host needs to know about one version of one model.
///
/// Parsing is strict: an unknown key, a wrong type or an impossible value is a ``ManifestError``
/// naming the file and the JSON path. Every optional section has documented defaults.
public struct Manifest: Sendable, Hashable, Decodable {
    /// The only manifest format version this host reads.
    public static let currentFormatVersion = 1

    /// The model's name: lowercase letters, digits, `.`, `_` and `-`, up to 64 characters.
    public var name: String
    /// The version of the model.
    public var version: SemanticVersion
    /// The plugin library's file name inside the bundle.
    public var library: String
    /// The SHA-256 of the library, as 64 lowercase hexadecimal characters; empty in a source
    /// manifest that `modelhost bundle` has not filled in yet.
    public var sha256: String
    /// The files of the bundle the plugin reads, each with its SHA-256, checked before load.
    /// Default none: a bundle may leave its artifacts unlisted, and they are then not checked.
    public var artifacts: [ArtifactSpec]
    /// The plugin ABI major version the library was built against.
    public var abiVersion: Int
    /// The framework or backend, reported as the OIP `platform`. Default `modelhost_plugin`.
    public var platform: String
    /// The inputs the model takes.
    public var inputs: [TensorSpec]
    /// The outputs the model produces.
    public var outputs: [TensorSpec]
    /// Admission and execution limits. Default ``ModelLimits/init()``.
    public var limits: ModelLimits
    /// Circuit-breaker settings. Default ``BreakerSettings/init()``.
    public var breaker: BreakerSettings
    /// Retry settings. Default ``RetrySettings/init()``.
    public var retry: RetrySettings
    /// What the version does once ready, and how it is watched.
    public var rollout: RolloutSettings
    /// Which outputs are watched for drift, and how. Default `nil`: none are.
    public var tracking: TrackingSettings?
    /// Requests run once before the version is ready. Default none.
    public var warmup: [WarmupSample]
    /// The plugin's own configuration, passed to it as JSON. Default `{}`.
    public var config: JSONValue
    /// Descriptive metadata. Default empty.
    public var metadata: ModelMetadata

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case manifestVersion, name, version, library, sha256, artifacts, abiVersion, platform, inputs, outputs
        case limits, breaker, retry, rollout, tracking, warmup, config, metadata
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.strictContainer(keyedBy: CodingKeys.self)
        let formatVersion = try container.decode(Int.self, forKey: .manifestVersion)
        guard formatVersion == Self.currentFormatVersion else {
            throw container.invalid(.manifestVersion, "must be \(Self.currentFormatVersion); this host reads manifest v1 only")
        }
        name = try container.decode(String.self, forKey: .name)
        guard Self.isValidName(name) else {
            throw container.invalid(.name, "must be 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        }
        let versionText = try container.decode(String.self, forKey: .version)
        guard let version = SemanticVersion(versionText) else {
            throw container.invalid(.version, "\"\(versionText)\" is not a semantic version (MAJOR.MINOR.PATCH)")
        }
        self.version = version
        library = try container.decode(String.self, forKey: .library)
        guard !library.isEmpty, !library.contains("/"), library != ".", library != ".." else {
            throw container.invalid(.library, "must be a file name inside the bundle, without '/'")
        }
        sha256 = try container.decode(String.self, forKey: .sha256)
        guard Self.isValidDigest(sha256) else {
            throw container.invalid(.sha256, "must be 64 lowercase hexadecimal characters")
        }
        artifacts = try container.decode(.artifacts, default: [])
        var artifactPaths: Set<String> = []
        for artifact in artifacts where !artifactPaths.insert(artifact.path).inserted {
            throw container.invalid(.artifacts, "lists \"\(artifact.path)\" twice")
        }
        abiVersion = try container.decode(Int.self, forKey: .abiVersion)
        guard abiVersion >= 1 else { throw container.invalid(.abiVersion, "must be >= 1") }
        platform = try container.decode(.platform, default: "modelhost_plugin")
        inputs = try container.decode([TensorSpec].self, forKey: .inputs)
        outputs = try container.decode([TensorSpec].self, forKey: .outputs)
        for (key, specs) in [(CodingKeys.inputs, inputs), (.outputs, outputs)] {
            guard !specs.isEmpty else { throw container.invalid(key, "must declare at least one tensor") }
            var seen: Set<String> = []
            for spec in specs where !seen.insert(spec.name).inserted {
                throw container.invalid(key, "declares \"\(spec.name)\" twice")
            }
        }
        limits = try container.decode(.limits, default: ModelLimits())
        breaker = try container.decode(.breaker, default: BreakerSettings())
        retry = try container.decode(.retry, default: RetrySettings())
        rollout = try container.decode(.rollout, default: RolloutSettings())
        if container.contains(.tracking), try !container.decodeNil(forKey: .tracking) {
            tracking = try TrackingSettings(from: container.superDecoder(forKey: .tracking), declaredOutputs: outputs)
        } else {
            tracking = nil
        }
        warmup = try container.decode(.warmup, default: [])
        config = try container.decode(.config, default: .object([:]))
        guard case .object = config else { throw container.invalid(.config, "must be an object") }
        metadata = try container.decode(.metadata, default: ModelMetadata())
        if let problem = warmupProblem() {
            throw container.invalid(.warmup, problem)
        }
    }

    /// Parses a manifest.
    ///
    /// - Parameters:
    ///   - data: The manifest's JSON.
    ///   - file: The path to name in errors.
    /// - Throws: ``ManifestError``.
    public static func parse(_ data: Data, file: String) throws(ManifestError) -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as DecodingError {
            throw ManifestError(file: file, decodingError: error)
        } catch {
            throw ManifestError(file: file, path: "(document)", message: "\(error)")
        }
    }

    /// Reads and parses the manifest at `path`.
    ///
    /// - Throws: ``ManifestError``, also when the file cannot be read.
    public static func load(contentsOf path: String) throws(ManifestError) -> Manifest {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ManifestError(file: path, path: "(document)", message: "cannot be read: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    /// The declared input with the given name.
    public func input(named name: String) -> TensorSpec? {
        inputs.first { $0.name == name }
    }

    private func warmupProblem() -> String? {
        for (index, sample) in warmup.enumerated() {
            for tensor in sample.inputs {
                guard let spec = input(named: tensor.name) else {
                    return "sample \(index): \"\(tensor.name)\" is not a declared input"
                }
                guard spec.datatype == tensor.datatype, spec.accepts(shape: tensor.shape) else {
                    return "sample \(index): \"\(tensor.name)\" must be \(spec.datatype.rawValue) with shape \(spec.shape)"
                }
            }
            for spec in inputs where spec.isRequired && !sample.inputs.contains(where: { $0.name == spec.name }) {
                return "sample \(index): required input \"\(spec.name)\" is missing"
            }
        }
        return nil
    }

    private static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 64, isLowerAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Whether `text` is a SHA-256 as the manifest spells it: 64 lowercase hexadecimal
    /// characters, or empty (not filled in yet).
    static func isValidDigest(_ text: String) -> Bool {
        text.isEmpty || (text.utf8.count == 64 && text.utf8.allSatisfy(isLowerHex))
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
