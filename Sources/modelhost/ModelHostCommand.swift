import ArgumentParser

/// The `modelhost` command: serve models, validate and assemble bundles, manage keys, and operate a
/// running server.
@main
struct ModelHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modelhost",
        abstract: "Serve ML models from native plugins over the Open Inference Protocol.",
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, ValidateCommand.self, BundleCommand.self, KeysCommand.self, BreakerCommand.self, HealthCommand.self,
            ModelsCommand.self, RollbackCommand.self, PromoteCommand.self, PinCommand.self, UnpinCommand.self, CanaryCommand.self,
            SplitCommand.self, UnloadCommand.self, ExperimentCommand.self,
        ]
    )
}
