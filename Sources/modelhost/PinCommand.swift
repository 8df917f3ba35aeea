import ArgumentParser
import ModelHostCore

/// `modelhost pin`: keep a version active whatever new versions do, until `modelhost unpin`.
struct PinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin",
        abstract: "Pin a ready version active: new versions, canaries and splits take no unversioned traffic until unpinned.",
        discussion: ControlOptions.keyAndExitStatus
    )

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The version, such as 1.0.0.")
    var version: String

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model, "version": version])
    }

    func run() async throws {
        try await options.post("/admin/models/\(model)/pin", body: ControlOptions.versionBody(version))
    }
}
