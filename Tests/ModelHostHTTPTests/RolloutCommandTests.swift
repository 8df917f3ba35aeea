import ModelHostCore
import ModelRegistry
import NIOCore
import Testing

@testable import ModelHostHTTP

/// The bodies of the rollout routes, read strictly, and what each command does to a state.
@Suite struct RolloutCommandTests {
    private func command(_ action: Route.RolloutAction, _ body: String) throws(ModelHostError) -> RolloutCommand {
        try RolloutCommand(action: action, body: ByteBuffer(string: body))
    }

    @Test(arguments: [
        (Route.RolloutAction.rollback, "{}", RolloutCommand.rollback(to: nil)),
        (.rollback, "", .rollback(to: nil)),
        (.rollback, #"{"to": "1.0.0"}"#, .rollback(to: "1.0.0")),
        (.promote, #"{"version": "1.1.0"}"#, .promote(version: "1.1.0")),
        (.pin, #"{"version": "1.0.0"}"#, .pin(version: "1.0.0")),
        (.unpin, "{}", .unpin),
        (.unpin, "", .unpin),
        (.canary, #"{"version": "1.1.0", "percent": 30}"#, .canary(version: "1.1.0", percent: 30)),
        (.canary, #"{"percent": 12.5, "version": "1.1.0"}"#, .canary(version: "1.1.0", percent: 12.5)),
        (.split, #"{"weights": {"1.0.0": 50, "1.1.0": 50}}"#, .split(weights: ["1.0.0": 50, "1.1.0": 50])),
    ])
    func readsEachActionsBody(action: Route.RolloutAction, body: String, expected: RolloutCommand) throws {
        #expect(try command(action, body) == expected)
    }

    @Test(arguments: [
        (Route.RolloutAction.promote, "", "not JSON"),
        (.promote, "{}", #"needs "version""#),
        (.promote, #"{"version": 1}"#, "must be a non-empty string, not a number"),
        (.promote, #"{"version": ""}"#, "must be a non-empty string"),
        (.promote, #"{"version": "1.1.0", "force": true}"#, #""force" is not a key of this route's body (it takes "version")"#),
        (.pin, "[]", "must be a JSON object"),
        (.unpin, #"{"version": "1.0.0"}"#, "it takes no keys"),
        (.rollback, #"{"version": "1.0.0"}"#, #"it takes "to""#),
        (.rollback, #"{"to": null}"#, "must be a non-empty string, not null"),
        (.canary, #"{"version": "1.1.0"}"#, #"needs "percent""#),
        (.canary, #"{"version": "1.1.0", "percent": "30"}"#, "must be a number, not a string"),
        (.split, #"{"weights": [50, 50]}"#, "must be an object of numbers by version"),
        (.split, #"{"weights": {"1.0.0": "half"}}"#, #""weights"."1.0.0" must be a number"#),
        (.split, #"{"weights": {"1.0.0": 1, "1.0.0": 2}}"#, "not JSON"),
    ])
    func refusesABodyNamingWhatIsAllowed(action: Route.RolloutAction, body: String, fragment: String) {
        #expect {
            _ = try command(action, body)
        } throws: { error in
            let error = try #require(error as? ModelHostError)
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains(fragment), "\(error.message)")
            // Every refusal shows the body the route takes.
            #expect(error.message.contains(RolloutCommand.bodyShape(of: action)), "\(error.message)")
            return true
        }
    }

    @Test func aSplitIsOrderedByVersionWhateverTheBodysOrder() throws {
        let ready = ["1.0.0", "1.1.0", "2.0.0"]
        var first = RolloutState()
        var second = RolloutState()
        let summary = try RolloutCommand.split(weights: ["2.0.0": 20, "1.0.0": 50, "1.1.0": 30]).apply(to: &first, ready: ready)
        _ = try RolloutCommand.split(weights: ["1.1.0": 30, "2.0.0": 20, "1.0.0": 50]).apply(to: &second, ready: ready)
        #expect(summary == "split: 1.0.0=50, 1.1.0=30, 2.0.0=20")
        #expect(first.split?.map(\.version) == ["1.0.0", "1.1.0", "2.0.0"])
        #expect(first == second)
    }

    @Test func anOperatorsRollbackSaysWhoRolledBack() throws {
        var state = RolloutState()
        let ready = ["1.0.0", "1.1.0"]
        _ = try RolloutCommand.promote(version: "1.0.0").apply(to: &state, ready: ready)
        _ = try RolloutCommand.promote(version: "1.1.0").apply(to: &state, ready: ready)
        #expect(try RolloutCommand.rollback(to: nil).apply(to: &state, ready: ready) == "1.0.0 is active (was 1.1.0, now rolled-back: rolled back by an operator)")
        #expect(state.rolledBack["1.1.0"] == "rolled back by an operator")
    }
}
