// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ModelHost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "modelhost", targets: ["modelhost"]),
        .library(name: "PluginKit", targets: ["PluginKit"]),
        // Example plugins, built as shared libraries the host loads with dlopen.
        .library(name: "EchoPlugin", type: .dynamic, targets: ["EchoPlugin"]),
        .library(name: "IntentClassifierPlugin", type: .dynamic, targets: ["IntentClassifierPlugin"]),
        .library(name: "AnomalyDetectorPlugin", type: .dynamic, targets: ["AnomalyDetectorPlugin"]),
        // Fault plugins for tests (plugins/testing/README.md), never bundled as examples.
        .library(name: "FaultPlugin", type: .dynamic, targets: ["FaultPlugin"]),
        .library(name: "FaultBatchPlugin", type: .dynamic, targets: ["FaultBatchPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // MARK: The plugin ABI and the runtime core (toolchain only).
        .target(name: "CModelHostPlugin"),
        .target(name: "PluginKit", dependencies: ["CModelHostPlugin", "ModelHostCore"]),
        .target(name: "ModelHostCore"),
        .target(name: "ModelManifest", dependencies: ["ModelHostCore"]),
        .target(
            name: "PluginLoader",
            dependencies: ["CModelHostPlugin", "ModelHostCore", "ModelManifest"],
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(name: "Scheduler", dependencies: ["ModelHostCore", "ModelManifest", "PluginLoader", "CircuitBreaker", "Telemetry"]),
        .target(name: "ModelRegistry", dependencies: ["ModelHostCore", "ModelManifest", "PluginLoader", "Scheduler", "CircuitBreaker", "Telemetry"]),
        .target(name: "Gatekeeper", dependencies: ["ModelHostCore", "ModelManifest"]),
        .target(name: "CircuitBreaker", dependencies: ["ModelHostCore", "ModelManifest"]),
        .target(name: "Telemetry", dependencies: ["ModelHostCore", "ModelManifest"]),

        // MARK: The HTTP edge and the command line.
        .target(
            name: "ModelHostHTTP",
            dependencies: [
                "ModelHostCore", "ModelManifest", "ModelRegistry", "PluginLoader", "Scheduler", "Gatekeeper", "CircuitBreaker", "Telemetry",
                "ModelHostLogging",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ModelHostLogging", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .target(
            name: "ModelHostMetrics",
            dependencies: [
                "ModelHostCore", "ModelRegistry", "Scheduler", "CircuitBreaker", "Telemetry",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "modelhost",
            dependencies: [
                "ModelHostCore", "ModelManifest", "PluginLoader", "Scheduler", "ModelRegistry", "Gatekeeper", "ModelHostHTTP", "CircuitBreaker", "Telemetry", "ModelHostMetrics", "ModelHostLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // MARK: Example plugins.
        .target(name: "EchoPlugin", dependencies: ["CModelHostPlugin"], path: "plugins/echo"),
        // Each Swift plugin is a model target (tested directly) and an entry target holding only the
        // exported symbol, so that test binaries never link two definitions of it.
        .target(name: "IntentClassifierModel", dependencies: ["PluginKit"], path: "plugins/intent-classifier/Model"),
        .target(name: "IntentClassifierPlugin", dependencies: ["IntentClassifierModel", "PluginKit"], path: "plugins/intent-classifier/Plugin"),
        .target(name: "AnomalyDetectorModel", dependencies: ["PluginKit"], path: "plugins/anomaly-detector/Model"),
        .target(name: "AnomalyDetectorPlugin", dependencies: ["AnomalyDetectorModel", "PluginKit"], path: "plugins/anomaly-detector/Plugin"),

        // MARK: Fault plugins for tests: one core, two libraries that differ only in whether they
        // declare MH_CAPABILITY_BATCHING (a property of the library, not of an instance).
        .target(name: "FaultPluginCore", dependencies: ["CModelHostPlugin"], path: "plugins/testing/fault/Core"),
        .target(name: "FaultPlugin", dependencies: ["FaultPluginCore"], path: "plugins/testing/fault/Plugin"),
        .target(name: "FaultBatchPlugin", dependencies: ["FaultPluginCore"], path: "plugins/testing/fault/BatchPlugin"),

        // MARK: Tests.
        .target(name: "ModelHostTestKit", dependencies: ["ModelHostCore"], path: "Tests/ModelHostTestKit"),
        .testTarget(name: "ModelHostCoreTests", dependencies: ["ModelHostCore"]),
        .testTarget(name: "ModelManifestTests", dependencies: ["ModelManifest"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "ModelManifest", "ModelHostCore"]),
        .testTarget(name: "GatekeeperTests", dependencies: ["Gatekeeper", "ModelManifest", "ModelHostCore", "ModelHostTestKit"]),
        .testTarget(name: "CircuitBreakerTests", dependencies: ["CircuitBreaker", "ModelManifest", "ModelHostCore", "ModelHostTestKit"]),
        .testTarget(name: "PluginKitTests", dependencies: ["PluginKit", "CModelHostPlugin"]),
        .testTarget(name: "PluginLoaderTests", dependencies: ["PluginLoader", "ModelHostCore", "ModelManifest", "ModelHostTestKit"]),
        .testTarget(name: "FaultPluginTests", dependencies: ["Scheduler", "PluginLoader", "ModelManifest", "ModelHostCore", "ModelHostTestKit"]),
        .testTarget(name: "SchedulerTests", dependencies: ["Scheduler", "PluginLoader", "ModelManifest", "ModelHostCore", "ModelHostTestKit", "CircuitBreaker", "Telemetry"]),
        .testTarget(name: "ModelRegistryTests", dependencies: ["ModelRegistry", "Scheduler", "PluginLoader", "ModelManifest", "ModelHostCore", "ModelHostTestKit"]),
        .testTarget(
            name: "ModelHostHTTPTests",
            dependencies: [
                "ModelHostHTTP", "ModelRegistry", "Scheduler", "ModelHostCore", "ModelManifest", "ModelHostTestKit", "Gatekeeper", "CircuitBreaker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ModelHostLoggingTests", dependencies: ["ModelHostLogging", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "ModelHostMetricsTests",
            dependencies: [
                "ModelHostMetrics", "ModelRegistry", "Scheduler", "Telemetry", "ModelHostCore", "ModelManifest", "ModelHostTestKit", "CircuitBreaker",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "modelhostTests",
            dependencies: ["ModelHostTestKit", "ModelHostCore", "modelhost", "CircuitBreaker", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "IntentClassifierModelTests", dependencies: ["IntentClassifierModel", "PluginKit"]),
        .testTarget(name: "AnomalyDetectorModelTests", dependencies: ["AnomalyDetectorModel", "PluginKit"]),
    ],
    swiftLanguageModes: [.v6]
)

// Strict settings for every Swift target, in one place.
let cTargets: Set = ["CModelHostPlugin", "EchoPlugin", "FaultPluginCore", "FaultPlugin", "FaultBatchPlugin"]
for target in package.targets where !cTargets.contains(target.name) {
    var settings = target.swiftSettings ?? []
    // Require `any` for existential types (SE-0335).
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // Only what a file imports is visible in it (SE-0444).
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
