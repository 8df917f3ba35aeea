import Foundation

/// Where things are when tests run: the package's sources and the libraries the build produced.
public enum TestPaths {
    /// The package's root directory.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the test binary, where the build also puts the plugin libraries.
    public static let buildDirectory: URL = {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()

    /// The path of a library the package builds, such as `libEchoPlugin.so`.
    ///
    /// - Throws: ``TestKitError`` when the build has not produced it.
    public static func builtLibrary(_ fileName: String) throws -> String {
        let path = buildDirectory.appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestKitError("\(fileName) is not in \(buildDirectory.path); `swift build --build-tests` builds it")
        }
        return path
    }

    /// The C header directory of the plugin ABI.
    public static var abiIncludeDirectory: String {
        packageRoot.appendingPathComponent("Sources/CModelHostPlugin/include").path
    }

    /// A file in `manifests/`.
    public static func manifest(_ name: String) -> String {
        packageRoot.appendingPathComponent("manifests/\(name).json").path
    }
}

/// A test setup that could not be made.
public struct TestKitError: Error, CustomStringConvertible {
    /// What went wrong.
    public var description: String

    /// Creates an error.
    public init(_ description: String) { self.description = description }
}
