// swift-tools-version:6.0
import PackageDescription

// Benchmarks for ModelHost, kept out of the product's dependency graph: nothing in the main
// package depends on this one, and `swift build` at the repository root never builds it.
// `Scripts/bench` builds it with `swift build -c release --package-path Benchmarks`.
let package = Package(
    name: "ModelHostBenchmarks",
    platforms: [.macOS(.v15)],
    products: [
        // The ceiling for any HTTP server on the machine: see `Sources/BareHTTPServer`.
        .executable(name: "BareHTTPServer", targets: ["BareHTTPServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "BareHTTPServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Strict settings for every target, in one place (as in the main package).
for target in package.targets {
    var settings = target.swiftSettings ?? []
    // Require `any` for existential types (SE-0335).
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // Only what a file imports is visible in it (SE-0444).
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
