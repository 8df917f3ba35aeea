import ArgumentParser
import ModelHostCore

/// `modelhost split`: share a model's unversioned traffic over two or more versions by weight.
struct SplitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Share a model's unversioned traffic over two or more ready versions by weight (an A/B split).",
        discussion: """
            Each weight is relative to the others: 1.0.0=50 1.1.0=50 and 1.0.0=1 1.1.0=1 are the \
            same split. Callers are placed by a stable hash, so each stays on one version. Replaces \
            a canary or split in progress; end it with promote or rollback. \
            \(ControlOptions.keyAndExitStatus)
            """
    )

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: ArgumentHelp("Two or more VERSION=WEIGHT, such as 1.0.0=90 1.1.0=10.", valueName: "version=weight"))
    var variants: [String] = []

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model])
        _ = try weights()
    }

    /// The weights the arguments give, by version.
    ///
    /// - Throws: `ValidationError` for an argument that is not `VERSION=WEIGHT` with a positive
    ///   weight, a version given twice, or fewer than two versions.
    func weights() throws -> [(version: String, weight: Double)] {
        var weights: [(version: String, weight: Double)] = []
        for variant in variants {
            guard let equals = variant.lastIndex(of: "="), let weight = Double(variant[variant.index(after: equals)...]) else {
                throw ValidationError("\"\(variant)\" is not VERSION=WEIGHT, such as 1.1.0=10")
            }
            let version = String(variant[..<equals])
            try ControlOptions.checkSegments(["version": version])
            guard weight > 0, weight.isFinite else {
                throw ValidationError("the weight of \(version) must be a positive number, not \(variant[variant.index(after: equals)...])")
            }
            guard !weights.contains(where: { $0.version == version }) else {
                throw ValidationError("\(version) is given twice")
            }
            weights.append((version, weight))
        }
        guard weights.count >= 2 else {
            throw ValidationError("a split needs two or more VERSION=WEIGHT, such as 1.0.0=90 1.1.0=10")
        }
        return weights
    }

    func run() async throws {
        let weights = try weights()
        let body = ControlOptions.body { writer in
            writer.key("weights")
            writer.beginObject()
            for (version, weight) in weights {
                writer.key(version)
                _ = writer.number(weight)
            }
            writer.endObject()
        }
        try await options.post("/admin/models/\(model)/split", body: body)
    }
}
