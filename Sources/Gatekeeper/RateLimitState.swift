/// The rate-limit state of a ``Gatekeeper``, partitioned so that admissions for different models,
/// keys and addresses take different locks.
///
/// ## Partitions
///
/// Three families of ``Shards``, each shard a `Mutex` of its own:
/// - ``models``, by model name: the per model table (keyed by model) and the per key per model table
///   (keyed by key id and model) of every model whose name hashes to the shard. An admission for one
///   model locks one model shard, so admissions for models in different shards never contend.
/// - ``keys``, by key id: the per key overall table, for keys with a limit of their own only.
/// - ``failures``, by client address: failed authentications.
///
/// ## Lock order
///
/// A request is admitted only if every limit that applies admits it, and only then recorded in all
/// of them, so the check and the record of one request happen under all of its locks at once. The
/// locks are always taken in one order: a ``keys`` shard, then a ``models`` shard; never two shards of
/// one family. A ``failures`` shard is only ever locked alone, released before any other is taken,
/// and ``liveCount(at:)`` takes every lock one at a time. So no two callers can wait for each other
/// (no deadlock), and no admission can slip between another's check and record.
///
/// The clock is read after the last lock is taken, so each table sees time advance in the order its
/// lock was taken: the decisions are exactly those of one gatekeeper handling the requests one at a
/// time in that order.
///
/// ## Bounded memory
///
/// Every table of every family is a ``TATStore`` with a bound of its own: each of the `n` shards of a
/// family holds at most `maxTrackedClients / n` entries per table, so each table (the per model
/// table across all model shards, for instance) never holds more than `maxTrackedClients`.
/// `n` is ``shardCount``, or the largest power of two at most `maxTrackedClients` when that is
/// smaller. A shard that is full refuses a new client of its own (fail closed, no live entry
/// evicted) even while other shards have room, exactly as a single full table would.
struct RateLimitState: Sendable {
    /// The per model and per key per model state of the models whose names hash to one shard.
    struct ModelShard: Sendable {
        /// Per model, across all callers: keyed by model name.
        var models: TATStore<String>
        /// Per key per model: keyed by key id and model, with no key string built per request.
        var keyModels: TATStore<KeyModel>
    }

    /// The key of the per key per model table.
    struct KeyModel: Hashable, Sendable {
        /// The key's id.
        var keyID: String
        /// The model's name.
        var model: String
    }

    /// The number of shards in each family: a power of two, comfortably more than the cores that
    /// admit requests at once, so that two busy models rarely share a shard.
    static let shardCount = 16

    /// Failed authentications per client address.
    let failures: Shards<TATStore<String>>
    /// The per key overall limit, for keys with a limit of their own.
    let keys: Shards<TATStore<String>>
    /// The per model and per key per model limits.
    let models: Shards<ModelShard>

    /// Creates empty state.
    ///
    /// - Parameter maxTrackedClients: The most entries each table holds across its shards; values
    ///   below 1 are treated as 1.
    init(maxTrackedClients: Int) {
        let bound = max(1, maxTrackedClients)
        let count = Shards<ModelShard>.powerOfTwo(atMost: min(Self.shardCount, bound))
        let perShard = bound / count
        failures = Shards(count: count) { TATStore(maxEntries: perShard) }
        keys = Shards(count: count) { TATStore(maxEntries: perShard) }
        models = Shards(count: count) { ModelShard(models: TATStore(maxEntries: perShard), keyModels: TATStore(maxEntries: perShard)) }
    }

    /// Checks a client address against the failed-authentication limit and, when the request is a
    /// failed authentication that may be counted, counts it, under the address's shard lock.
    ///
    /// An address the table does not hold has not failed lately, so it is never blocked: a refusal
    /// for it can only mean its shard is full, and then its failure goes uncounted until there is
    /// room (the table stays bounded, and no address is locked out for others' failures). So a
    /// request that is not a failure, from an address not held, reads neither the clock nor the limit.
    ///
    /// - Parameters:
    ///   - address: The client's address.
    ///   - isFailure: Whether the request presented a key that is malformed, unknown or revoked.
    ///   - limit: The failed-authentication limit.
    ///   - now: Reads the current time on the tables' scale.
    /// - Returns: The refusal when the address is blocked, else `nil`.
    func screen(_ address: String, isFailure: Bool, limit: RateLimit, now: () -> Int128) -> RateLimitDecision? {
        failures.withLock(failures.index(for: address)) { table in
            let isTracked = table.contains(address)
            guard isTracked || isFailure else { return nil }
            let now = now()
            let decision = table.check(address, limit: limit, at: now)
            guard decision.isAllowed else { return isTracked ? decision : nil }
            if isFailure { table.record(address, limit: limit, at: now) }
            return nil
        }
    }

    /// Checks every request rate limit in `plan` and, only if all admit, records the request in all
    /// of them, holding every lock involved across both (see the lock order above).
    ///
    /// - Parameters:
    ///   - plan: The limits that apply.
    ///   - now: Reads the current time on the tables' scale; called once, under the locks.
    /// - Returns: The first refusal, in the order per key overall, per key per model, per model; or
    ///   the tightest admission. Empty when no limit applies.
    func admit(_ plan: RateLimitPlan, now: () -> Int128) -> RateLimitPlan.Verdict {
        if let keyID = plan.keyID, let overall = plan.overall {
            return keys.withLock(keys.index(for: keyID)) { keyTable in
                guard let model = plan.model, plan.touchesModelShard else {
                    let now = now()
                    var verdict = RateLimitPlan.Verdict()
                    verdict.add(keyTable.check(keyID, limit: overall, at: now), overall)
                    if verdict.isAdmitted { keyTable.record(keyID, limit: overall, at: now) }
                    return verdict
                }
                return models.withLock(models.index(for: model)) { shard in
                    let now = now()
                    var verdict = RateLimitPlan.Verdict()
                    verdict.add(keyTable.check(keyID, limit: overall, at: now), overall)
                    plan.check(shard, at: now, into: &verdict)
                    if verdict.isAdmitted {
                        keyTable.record(keyID, limit: overall, at: now)
                        plan.record(&shard, at: now)
                    }
                    return verdict
                }
            }
        }
        guard let model = plan.model, plan.touchesModelShard else { return RateLimitPlan.Verdict() }
        return models.withLock(models.index(for: model)) { shard in
            let now = now()
            var verdict = RateLimitPlan.Verdict()
            plan.check(shard, at: now, into: &verdict)
            if verdict.isAdmitted { plan.record(&shard, at: now) }
            return verdict
        }
    }

    /// The number of entries live at `now` in every table of every shard.
    ///
    /// It first drops each table's expired entries, as its next record would (so it changes no
    /// decision), and takes the shard locks one at a time, so under concurrent admissions it is no
    /// snapshot of one instant.
    ///
    /// - Parameter now: The current time on the tables' scale.
    func liveCount(at now: Int128) -> Int {
        failures.sum { table in
            table.removeExpired(at: now)
            return table.count
        }
            + keys.sum { table in
                table.removeExpired(at: now)
                return table.count
            }
            + models.sum { shard in
                shard.models.removeExpired(at: now)
                shard.keyModels.removeExpired(at: now)
                return shard.models.count + shard.keyModels.count
            }
    }
}
