import ArgumentParser
import ModelHostCore

/// `modelhost canary`: send a share of a model's unversioned traffic to a version beside the
/// active one.
struct CanaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canary",
        abstract: "Send a share of a model's unversioned traffic to a ready version beside the active one.",
        discussion: """
            Callers are placed by a stable hash of who they are (their key, or their address on a \
            server without keys), so each caller stays on one version. Replaces a canary or split in \
            progress; end it with promote or rollback. \(ControlOptions.keyAndExitStatus)
            """
    )

    @Argument(help: "The model's name.")
    var model: String

    @Argument(help: "The canary version, such as 1.1.0.")
    var version: String

    @Option(name: .long, help: ArgumentHelp("Its share of unversioned traffic, more than 0 and less than 100.", valueName: "percent"))
    var percent: Double

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model, "version": version])
        guard percent > 0, percent < 100 else {
            throw ValidationError("--percent must be more than 0 and less than 100, not \(percent)")
        }
    }

    func run() async throws {
        let body = ControlOptions.body { writer in
            writer.key("version")
            writer.string(version)
            writer.key("percent")
            _ = writer.number(percent)
        }
        try await options.post("/admin/models/\(model)/canary", body: body)
    }
}
