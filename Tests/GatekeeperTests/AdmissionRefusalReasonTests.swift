import ModelHostCore
import ModelHostTestKit
import Testing

@testable import Gatekeeper

/// Every refusal path of the ``Gatekeeper`` says why in ``AdmissionDecision/refusalReason``, with
/// a label from a small fixed set (or a policy name), never the key or the client's address.
@Suite("AdmissionRefusalReason")
struct AdmissionRefusalReasonTests {
    typealias Keeper = Gatekeeper<ManualClock>
    typealias G = GatekeeperTests

    /// The reason as `kind/label`, or `admitted`; checks that a reason comes with every refusal
    /// and only with one.
    static func outcome(_ decision: AdmissionDecision) -> String {
        #expect((decision.refusal == nil) == (decision.refusalReason == nil))
        return decision.refusalReason.map { "\($0.kind.rawValue)/\($0.label)" } ?? "admitted"
    }

    @Test("the reasons' kinds and labels are stable, and which count as authentication failures")
    func stableNames() {
        let reasons: [AdmissionRefusalReason] = [.missing, .malformed, .unknown, .revoked, .scope, .model]
        #expect(reasons.map(\.description) == [
            "authentication: missing", "authentication: malformed", "authentication: unknown", "authentication: revoked",
            "forbidden: scope", "forbidden: model",
        ])
        #expect(reasons.allSatisfy { $0.isAuthenticationFailure })
        let limited = AdmissionRefusalReason.rateLimited(RateLimit.perSecond(1, burst: 1, policyName: "per-tenant"))
        #expect(limited.kind == .rateLimited)
        #expect(limited.kind.rawValue == "rate_limited")
        #expect(limited.label == "per-tenant")
        #expect(!limited.isAuthenticationFailure)
    }

    @Test("a missing credential is authentication/missing on every keyed route", arguments: [AdmissionRequest.Access.metadata, .inference, .admin])
    func missing(access: AdmissionRequest.Access) {
        let gatekeeper = Keeper(keys: G.Keys().ring, clock: ManualClock())
        #expect(Self.outcome(gatekeeper.admit(G.request(access, nil, model: "echo"))) == "authentication/missing")
    }

    @Test("each bad credential has its reason", arguments: G.BadCredential.allCases)
    func badCredential(kind: G.BadCredential) throws {
        var keys = G.Keys()
        let good = try keys.make(scopes: [.infer, .admin])
        let doomed = try keys.make(scopes: [.infer, .admin])
        try keys.revoke(doomed)
        let (credential, expected): (String, String)
        switch kind {
        case .malformed: (credential, expected) = ("not-a-key", "malformed")
        case .empty: (credential, expected) = ("", "malformed")
        case .badChecksum:
            var text = good.reveal()
            let last = text.removeLast()
            (credential, expected) = (text + (last == "0" ? "1" : "0"), "malformed")
        case .unknown: (credential, expected) = (APIKey.generate().reveal(), "unknown")
        case .wrongSecret: (credential, expected) = (G.impostor(of: good).reveal(), "unknown")
        case .revoked: (credential, expected) = (doomed.reveal(), "revoked")
        }
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        for access in [AdmissionRequest.Access.metadata, .inference, .admin] {
            #expect(Self.outcome(gatekeeper.admit(G.withCredential(credential, access))) == "authentication/\(expected)")
        }
    }

    @Test("a key without the route's scope is forbidden/scope; one restricted to other models is forbidden/model")
    func forbidden() throws {
        var keys = G.Keys()
        let inferOnly = try keys.make(scopes: [.infer], models: ["echo"])
        let adminOnly = try keys.make(scopes: [.admin])
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        var memo = CredentialMemo()
        #expect(Self.outcome(gatekeeper.admit(G.request(.admin, inferOnly), memo: &memo)) == "forbidden/scope")
        // Once the memo holds the key, the reasons are the same.
        #expect(Self.outcome(gatekeeper.admit(G.request(.admin, inferOnly), memo: &memo)) == "forbidden/scope")
        #expect(Self.outcome(gatekeeper.admit(G.infer(inferOnly, model: "other"), memo: &memo)) == "forbidden/model")
        #expect(Self.outcome(gatekeeper.admit(G.request(.metadata, inferOnly, model: "other"))) == "forbidden/model")
        #expect(Self.outcome(gatekeeper.admit(G.infer(adminOnly))) == "forbidden/scope")
        #expect(Self.outcome(gatekeeper.admit(G.infer(inferOnly, model: "echo"), memo: &memo)) == "admitted")
    }

    @Test("a blocked address is rate_limited with the failure limit's policy name, whatever it sends")
    func failedAuthentications() throws {
        var keys = G.Keys()
        let good = try keys.make()
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        for _ in 0..<10 {
            #expect(Self.outcome(gatekeeper.admit(G.withCredential("garbage"))) == "authentication/malformed")
        }
        for request in [G.infer(good), G.withCredential(nil), G.withCredential("garbage"), G.request(.admin, good)] {
            #expect(Self.outcome(gatekeeper.admit(request)) == "rate_limited/auth-failures")
        }
    }

    @Test("the failure limit's label is the policy name configured")
    func configuredFailurePolicy() throws {
        var configuration = Keeper.Configuration()
        configuration.failedAuthenticationLimit = RateLimit(quota: 1, window: .seconds(60), burst: 1, policyName: "brute-force")!
        let gatekeeper = Keeper(configuration: configuration, keys: G.Keys().ring, clock: ManualClock())
        #expect(Self.outcome(gatekeeper.admit(G.withCredential("garbage"))) == "authentication/malformed")
        #expect(Self.outcome(gatekeeper.admit(G.withCredential("garbage"))) == "rate_limited/brute-force")
    }

    @Test("the default per key per model limit is rate_limited/key-model, or the name configured")
    func keyModel() throws {
        var keys = G.Keys()
        let key = try keys.make()
        var configuration = Keeper.Configuration()
        let clock = ManualClock()
        let standard = Keeper(configuration: configuration, keys: keys.ring, clock: clock)
        for _ in 0..<100 { #expect(Self.outcome(standard.admit(G.infer(key))) == "admitted") }
        #expect(Self.outcome(standard.admit(G.infer(key))) == "rate_limited/key-model")

        configuration.defaultKeyLimit = RateLimit(quota: 1, window: .seconds(60), burst: 1, policyName: "per-key-per-model")!
        let renamed = Keeper(configuration: configuration, keys: keys.ring, clock: clock)
        #expect(Self.outcome(renamed.admit(G.infer(key))) == "admitted")
        #expect(Self.outcome(renamed.admit(G.infer(key))) == "rate_limited/per-key-per-model")
    }

    @Test("a key's own limit is rate_limited/key on any model")
    func keyOverall() throws {
        var keys = G.Keys()
        let key = try keys.make(rateLimit: KeyRateLimit(requests: 1, windowSeconds: 60, burst: 1))
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        #expect(Self.outcome(gatekeeper.admit(G.infer(key, model: "echo"))) == "admitted")
        #expect(Self.outcome(gatekeeper.admit(G.infer(key, model: "echo"))) == "rate_limited/key")
        #expect(Self.outcome(gatekeeper.admit(G.infer(key, model: "other"))) == "rate_limited/key")
    }

    @Test("a model's limit is labelled with its policy name, with or without authentication", arguments: [true, false])
    func modelLimit(requiresAuthentication: Bool) throws {
        var keys = G.Keys()
        let a = try keys.make()
        let b = try keys.make()
        var configuration = Keeper.Configuration()
        configuration.requiresAuthentication = requiresAuthentication
        let gatekeeper = Keeper(configuration: configuration, keys: keys.ring, clock: ManualClock())
        let limit = RateLimit.perSecond(1, burst: 1, policyName: "model")
        #expect(Self.outcome(gatekeeper.admit(G.infer(a, limit: limit))) == "admitted")
        #expect(Self.outcome(gatekeeper.admit(G.infer(b, limit: limit))) == "rate_limited/model")
    }

    @Test("a client refused because its table is full is labelled with the limit that refused it")
    func fullTable() throws {
        var keys = G.Keys()
        let a = try keys.make()
        let b = try keys.make()
        var configuration = Keeper.Configuration()
        configuration.maxTrackedClients = 1
        let gatekeeper = Keeper(configuration: configuration, keys: keys.ring, clock: ManualClock())
        #expect(Self.outcome(gatekeeper.admit(G.infer(a))) == "admitted")
        #expect(Self.outcome(gatekeeper.admit(G.infer(b))) == "rate_limited/key-model")
    }

    @Test("admitted requests carry no reason, with or without rate-limit headers")
    func admitted() throws {
        var keys = G.Keys()
        let key = try keys.make(scopes: [.infer, .admin])
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        let open = gatekeeper.admit(G.request(.open, nil))
        #expect(open.refusalReason == nil)
        let inference = gatekeeper.admit(G.infer(key))
        #expect(!inference.headers.isEmpty)
        #expect(inference.refusalReason == nil)
        #expect(gatekeeper.admit(G.request(.admin, key)).refusalReason == nil)
    }
}
