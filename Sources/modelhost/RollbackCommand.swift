import ArgumentParser
import ModelHostCore

/// `modelhost rollback`: turn a model back from its active version to the one before, or to a
/// version named with `--to`.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Turn a model back from its active version to the version active before it, or to --to.",
        discussion: """
            The version left is marked rolled-back ("rolled back by an operator"): it takes no \
            unversioned traffic again until promoted, though requests that name it still reach it. \
            A canary or split in progress ends; a pin moves to the version rolled back to. Fails \
            when there is no earlier ready version and no --to. \(ControlOptions.keyAndExitStatus)
            """
    )

    @Argument(help: "The model's name.")
    var model: String

    @Option(name: .long, help: ArgumentHelp("The version to turn back to; default the one active before.", valueName: "version"))
    var to: String?

    @OptionGroup var options: ControlOptions

    func validate() throws {
        try ControlOptions.checkSegments(["model": model])
        if let to { try ControlOptions.checkSegments(["--to": to]) }
    }

    func run() async throws {
        let body = ControlOptions.body { writer in
            if let to {
                writer.key("to")
                writer.string(to)
            }
        }
        try await options.post("/admin/models/\(model)/rollback", body: body)
    }
}
