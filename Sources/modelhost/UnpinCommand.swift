import ArgumentParser

/// `modelhost unpin`: remove a model's pin; the active version stays as it is.
struct UnpinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin",
        abstract: "Remove a model's pin; its active version stays active.",
        discussion: "Fails when no version is pinned. \(ControlOptions.keyAndExitStatus)"
    )

    @Argument(help: "The model's name.")
    var model: String

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model])
    }

    func run() async throws {
        try await options.post("/admin/models/\(model)/unpin", body: ControlOptions.body { _ in })
    }
}
