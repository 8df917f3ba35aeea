import ArgumentParser

/// `modelhost unload`: unload one version of a model from a running server.
struct UnloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unload",
        abstract: "Unload one version of a model from a running server.",
        discussion: """
            The version takes no new requests; those in flight finish. Refused for a pinned version \
            (unpin it first) and for the model's last ready version. A server that does not run the \
            models directory watcher answers 503: it cannot unload. \
            \(ControlOptions.keyAndExitStatus)
            """
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
        try await options.post("/admin/models/\(model)/versions/\(version)/unload", body: ControlOptions.body { _ in })
    }
}
