import ArgumentParser
import Foundation
import ModelHostCore
import NIOHTTP1

/// The options of the commands that change a running server's models (`rollback`, `promote`,
/// `pin`, `unpin`, `canary`, `split`, `unload`) and of `models`: the server, the admin key, and
/// `--json`; and how they call the server and print its answer.
struct ControlOptions: ParsableArguments {
    @OptionGroup var serverOptions: ServerOptions

    @Flag(name: .long, help: "Print the server's JSON answer as it is, instead of a summary.")
    var json = false

    /// What every such command's help says about its key and its exit status.
    static let keyAndExitStatus = """
        The admin key is read from the file --key-file names (readable by its owner only), else \
        from the environment variable MODELHOST_ADMIN_KEY, never from a flag, so it stays out of \
        process listings and shell history; without either the request is sent with no key, which \
        only a server run with --insecure-no-auth accepts. A key restricted to some models may act \
        on those models only. Exit status: 0 done, 1 the server refused (its message and code are \
        printed), 69 the server could not be reached, 76 the answer was not understood, 77 the \
        key is missing or refused, 78 the key file or MODELHOST_ADMIN_KEY is unusable.
        """

    /// Refuses model names and versions that cannot be one segment of a path.
    ///
    /// - Throws: `ValidationError` naming the argument.
    static func checkSegments(_ arguments: KeyValuePairs<String, String>) throws {
        for (name, value) in arguments {
            if let failure = BreakerCommand.pathSegmentFailure(value) { throw ValidationError("\(name) \"\(value)\" \(failure)") }
        }
    }

    /// Sends `body` to a control route and prints what changed (`echo: 1.0.0 is active (was
    /// 1.1.0)`), or with `--json` the server's answer as it is.
    ///
    /// - Throws: `ExitCode` with the failure's status when the server cannot or will not act;
    ///   the reason goes to standard error (and with `--json`, the server's error body to
    ///   standard output).
    func post(_ path: String, body: [UInt8]) async throws {
        let server = try serverOptions.serverURL()
        try await CommandFailure.reporting { () async throws(CommandFailure) in
            let call = try serverOptions.call(to: server, keys: .admin)
            let answer = try await send(.POST, path, body: body, with: call)
            if json {
                Self.printRaw(answer)
            } else {
                let change = try call.decode(answer, as: Change.self)
                print("\(change.name): \(change.changed)")
            }
        }
    }

    /// Sends a request; with `--json`, an error answer's body is printed before the failure is
    /// reported.
    func send(_ method: HTTPMethod, _ path: String, body: [UInt8]?, with call: ServerCall) async throws(CommandFailure) -> [UInt8] {
        do {
            return try await call.send(method, path, json: body)
        } catch {
            if json, let answer = error.answer { Self.printRaw(answer) }
            throw error
        }
    }

    /// Writes a JSON answer to standard output, ending it with a newline.
    static func printRaw(_ answer: [UInt8]) {
        var text = String(decoding: answer, as: UTF8.self)
        if !text.hasSuffix("\n") { text += "\n" }
        print(text, terminator: "")
    }

    /// A JSON body: one object of the given string or number fields.
    static func body(_ build: (inout JSONWriter) -> Void) -> [UInt8] {
        var writer = JSONWriter(capacity: 128)
        writer.beginObject()
        build(&writer)
        writer.endObject()
        return writer.bytes
    }

    /// The body `{"version": version}` that promote and pin send.
    static func versionBody(_ version: String) -> [UInt8] {
        body { writer in
            writer.key("version")
            writer.string(version)
        }
    }

    /// The part of a control route's answer the summary needs: the model and what changed.
    struct Change: Decodable {
        var name: String
        var changed: String
    }
}
