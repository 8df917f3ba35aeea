import Dispatch
import Foundation
import ModelHostCore
import ModelHostTestKit
import Synchronization
import Testing

@testable import Gatekeeper

/// The sharded rate-limit state under concurrent admissions, through the ``Gatekeeper``: exact
/// limits when many threads admit at once, every limit of a request recorded or none, no deadlock
/// across lock families, and the bound on tracked clients split over the shards.
@Suite("Rate-limit state")
struct RateLimitStateTests {
    typealias Keeper = Gatekeeper<ManualClock>

    /// Admits requests `0..<count` from `threads` threads of their own, started together, all at
    /// the clock's current instant, and returns the decisions by request index.
    ///
    /// Threads of their own rather than `DispatchQueue.concurrentPerform`: with the test runner's
    /// threads busy, `concurrentPerform` did not race enough to expose a check and a record made
    /// under separate locks, and these threads do.
    static func admitConcurrently(
        _ count: Int,
        threads: Int = 8,
        on gatekeeper: Keeper,
        _ request: @escaping @Sendable (Int) -> AdmissionRequest
    ) -> [AdmissionDecision] {
        let collected = Collected(count: count)
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for thread in 0..<threads {
            done.enter()
            Thread {
                start.wait()
                var mine: [(Int, AdmissionDecision)] = []
                for index in stride(from: thread, to: count, by: threads) {
                    mine.append((index, gatekeeper.admit(request(index))))
                }
                collected.decisions.withLock { decisions in
                    for (index, decision) in mine { decisions[index] = decision }
                }
                done.leave()
            }.start()
        }
        for _ in 0..<threads { start.signal() }
        done.wait()
        return collected.decisions.withLock { $0.map { $0! } }
    }

    /// Where the threads leave their decisions, by request index.
    final class Collected: Sendable {
        let decisions: Mutex<[AdmissionDecision?]>

        init(count: Int) {
            decisions = Mutex(Array(repeating: nil, count: count))
        }
    }

    // MARK: Exact under concurrency

    @Test(.timeLimit(.minutes(1)))
    func concurrentAdmissionsForOneModelNeverExceedItsBurst() throws {
        var keys = GatekeeperTests.Keys()
        let callers = try (0..<8).map { _ in try keys.make() }
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        // 37 a minute, burst 37: at one instant, exactly 37 requests may pass.
        let model = RateLimit(quota: 37, window: .seconds(60), burst: 37, policyName: "model")!

        let decisions = Self.admitConcurrently(2000, on: gatekeeper) { index in
            GatekeeperTests.infer(callers[index % callers.count], limit: model)
        }
        let admitted = decisions.filter(\.isAdmitted)
        #expect(admitted.count == 37)
        #expect(decisions.filter { $0.refusal?.code == .rateLimited }.count == 2000 - 37)
        // Each admission saw the state the one before it left: the remaining counts are exactly
        // 36 down to 0, each once, so no two admissions checked the same state.
        let remaining = admitted.compactMap { decision in
            decision.header("RateLimit")?.split(separator: ";").first { $0.hasPrefix("r=") }.flatMap { Int($0.dropFirst(2)) }
        }
        #expect(remaining.sorted() == Array(0..<37))
        #expect(admitted.allSatisfy { $0.header("RateLimit-Policy") == #""model";q=37;w=60"# })
        // And the limit holds on afterwards.
        #expect(gatekeeper.admit(GatekeeperTests.infer(callers[0], limit: model)).refusal?.code == .rateLimited)
    }

    @Test(.timeLimit(.minutes(1)))
    func concurrentAdmissionsForManyModelsAreEachExact() throws {
        var configuration = Keeper.Configuration()
        configuration.requiresAuthentication = false
        let gatekeeper = Keeper(configuration: configuration, keys: KeyRing(records: []), clock: ManualClock())
        let model = RateLimit(quota: 20, window: .seconds(60), burst: 20, policyName: "model")!
        let models = (0..<12).map { "model-\($0)" }

        let decisions = Self.admitConcurrently(3000, on: gatekeeper) { index in
            GatekeeperTests.infer(nil, model: models[index % models.count], limit: model)
        }
        #expect(decisions.filter(\.isAdmitted).count == 20 * models.count)
        for name in models {
            #expect(gatekeeper.admit(GatekeeperTests.infer(nil, model: name, limit: model)).refusal?.code == .rateLimited)
        }
        #expect(gatekeeper.trackedClientCount == models.count)
    }

    // MARK: All limits or none

    @Test func anAdmissionRecordsTheKeyAndTheModelLimitsOrNeither() throws {
        var keys = GatekeeperTests.Keys()
        let limited = try keys.make(rateLimit: KeyRateLimit(requests: 2, windowSeconds: 60, burst: 2))
        let other = try keys.make()
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        let model = RateLimit(quota: 2, window: .seconds(60), burst: 2, policyName: "model")!

        // Admitted: the overall key entry, the key-model pair and the model are all recorded.
        #expect(gatekeeper.admit(GatekeeperTests.infer(limited, model: "echo", limit: model)).isAdmitted)
        #expect(gatekeeper.trackedClientCount == 3)
        // The model has one request left, which the other key takes.
        #expect(gatekeeper.admit(GatekeeperTests.infer(other, model: "echo", limit: model)).isAdmitted)
        // Refused by the model: the limited key's overall budget is untouched...
        for _ in 0..<5 {
            let refused = gatekeeper.admit(GatekeeperTests.infer(limited, model: "echo", limit: model))
            #expect(refused.header("RateLimit-Policy") == #""model";q=2;w=60"#)
        }
        // ...so it still has exactly one request left, on another model.
        #expect(gatekeeper.admit(GatekeeperTests.infer(limited, model: "intent", limit: model)).isAdmitted)
        let spent = gatekeeper.admit(GatekeeperTests.infer(limited, model: "third", limit: model))
        #expect(spent.header("RateLimit-Policy") == #""key";q=2;w=60"#)
        // Refused by the key: the third model's budget is untouched, both requests are left.
        for (remaining, reset) in [(1, 30), (0, 60)] {
            #expect(gatekeeper.admit(GatekeeperTests.infer(other, model: "third", limit: model)).header("RateLimit") == #""model";r=\#(remaining);t=\#(reset)"#)
        }
    }

    /// Keys with limits of their own call many models at once from many threads, each request
    /// taking a key shard's lock and then a model shard's lock, and both limits refuse some of
    /// them. Nothing deadlocks, and the records match the admissions exactly: each model's budget
    /// is spent by exactly the requests it admitted (none refused by a key spent any), and each
    /// key's by exactly the requests it was admitted (none refused by a model spent any, none
    /// slipped past the key's limit).
    @Test(.timeLimit(.minutes(1)))
    func keyAndModelLimitsTogetherAreExactUnderConcurrency() throws {
        var keys = GatekeeperTests.Keys()
        // 10 a minute, burst 10 each, across all models.
        let limited = try (0..<16).map { _ in try keys.make(rateLimit: KeyRateLimit(requests: 10, windowSeconds: 60, burst: 10)) }
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        // 18 a minute, burst 18 each: the models admit 144 of the 160 the keys allow, so both
        // limits refuse requests.
        let model = RateLimit(quota: 18, window: .seconds(60), burst: 18, policyName: "model")!
        let models = (0..<8).map { "model-\($0)" }
        // The eight threads take interleaved indexes, so each run of eight consecutive requests,
        // one per thread, is one key's, each for its own model: the threads race on every key.
        let keyOf = { @Sendable (index: Int) in (index / 8) % 16 }
        let modelOf = { @Sendable (index: Int) in (index / 3) % 8 }

        let decisions = Self.admitConcurrently(3200, on: gatekeeper) { index in
            GatekeeperTests.infer(limited[keyOf(index)], model: models[modelOf(index)], limit: model)
        }
        let admitted = decisions.indices.filter { decisions[$0].isAdmitted }
        #expect(admitted.count == 18 * models.count)
        let refusedBy = Dictionary(grouping: decisions.filter { !$0.isAdmitted }.compactMap { $0.header("RateLimit-Policy") }, by: { $0 }).mapValues(\.count)
        #expect(refusedBy[#""key";q=10;w=60"#, default: 0] > 0)
        #expect(refusedBy[#""model";q=18;w=60"#, default: 0] > 0)

        // Every model admitted exactly its burst, and has nothing left.
        let perModel = Dictionary(grouping: admitted, by: modelOf).mapValues(\.count)
        #expect(perModel == Dictionary(uniqueKeysWithValues: (0..<8).map { ($0, 18) }))
        for name in models {
            #expect(gatekeeper.admit(GatekeeperTests.infer(limited[0], model: name, limit: model)).refusal?.code == .rateLimited)
        }
        // Every key has exactly what it was not admitted left, on a model with no limit of its own.
        let perKey = Dictionary(grouping: admitted, by: keyOf).mapValues(\.count)
        for (index, key) in limited.enumerated() {
            let got = perKey[index, default: 0]
            #expect(got <= 10)
            var left = 0
            while gatekeeper.admit(GatekeeperTests.infer(key, model: "unlimited")).isAdmitted { left += 1 }
            #expect(left == 10 - got)
        }
    }

    /// Keys with and without limits of their own on the same models at once: requests taking a
    /// key shard's lock and a model shard's lock race requests taking only the model shard's.
    @Test(.timeLimit(.minutes(1)))
    func mixedTrafficOnBothLockFamiliesIsExact() throws {
        var keys = GatekeeperTests.Keys()
        let callers = try (0..<4).map { _ in try keys.make() } + [keys.make(rateLimit: KeyRateLimit(requests: 30, windowSeconds: 60, burst: 30))]
        let gatekeeper = Keeper(keys: keys.ring, clock: ManualClock())
        let model = RateLimit(quota: 10, window: .seconds(60), burst: 10, policyName: "model")!
        let models = (0..<8).map { "model-\($0)" }

        let results = Self.admitConcurrently(4000, on: gatekeeper) { index in
            GatekeeperTests.infer(callers[index % callers.count], model: models[(index / callers.count) % models.count], limit: model)
        }
        // Every model gets far more than 10 requests from the keys without a limit of their own
        // (100 each per model, within their default per model limit), so each fills exactly.
        #expect(results.filter(\.isAdmitted).count == 10 * models.count)
    }

    // MARK: Bounded memory across shards

    @Test func theBoundOnTrackedClientsHoldsAcrossShards() throws {
        var keys = GatekeeperTests.Keys()
        let good = try keys.make()
        var configuration = Keeper.Configuration()
        configuration.maxTrackedClients = 64
        configuration.failedAuthenticationLimit = RateLimit(quota: 1, window: .seconds(60), burst: 1, policyName: "auth-failures")!
        configuration.enforcesRateLimits = false
        let gatekeeper = Keeper(configuration: configuration, keys: keys.ring, clock: ManualClock())

        // 10,000 addresses fail once each, at one instant: far more than the shards can hold.
        let addresses = (0..<10_000).map { "198.51.\($0 / 256).\($0 % 256)" }
        for address in addresses {
            #expect(gatekeeper.admit(GatekeeperTests.withCredential("garbage", from: address)).refusal?.code == .authentication)
        }
        // Every shard filled up to its share, and none went past it.
        #expect(gatekeeper.trackedClientCount == 64)

        // The addresses whose failure was counted are blocked (burst 1); the others, which their
        // full shard could not take, are not locked out.
        var blocked = 0
        for address in addresses {
            let decision = gatekeeper.admit(GatekeeperTests.infer(good, from: address))
            if decision.refusal?.code == .rateLimited {
                blocked += 1
            } else {
                #expect(decision.isAdmitted)
            }
        }
        #expect(blocked == 64)
        #expect(gatekeeper.trackedClientCount == 64)
    }

    @Test(arguments: [(0, 1), (1, 1), (2, 2), (3, 2), (15, 8), (16, 16), (17, 16), (1_000_000, 16)])
    func theShardCountIsAPowerOfTwoNoLargerThanTheBound(maxTrackedClients: Int, shards: Int) {
        let state = RateLimitState(maxTrackedClients: maxTrackedClients)
        #expect(state.models.count == shards)
        #expect(state.keys.count == shards)
        #expect(state.failures.count == shards)
    }
}

extension AdmissionDecision {
    /// The value of the header named `name`, if present.
    fileprivate func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}
