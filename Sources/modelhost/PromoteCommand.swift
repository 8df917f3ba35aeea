import ArgumentParser
import ModelHostCore

/// `modelhost promote`: make a version the model's active one.
struct PromoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make a ready version the model's active one: unversioned requests go to it.",
        discussion: """
            Ends a canary of the version and clears a rollback of it; a pin moves to it. \
            \(ControlOptions.keyAndExitStatus)
            """
    )

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The version, such as 1.1.0.")
    var version: String

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model, "version": version])
    }

    func run() async throws {
        try await options.post("/admin/models/\(model)/promote", body: ControlOptions.versionBody(version))
    }
}
