extension ModelReconciler {
    /// When a bundle directory is acted on: the settle rule and "not again until it changes",
    /// decided without I/O or a real clock.
    ///
    /// The loop reports what it sees of each bundle (``observe(_:_:at:)``, a fingerprint or `nil`
    /// for gone); a change starts the bundle's settle time again. A bundle that has been quiet
    /// for the settle time is looked at once more (``settle(_:_:at:)``): still unchanged, it is
    /// judged — considered (verified, loaded) or removed — and then left alone until its
    /// fingerprint changes again. So nothing is ever retried in a loop, and a bundle being
    /// written is never judged while the writes go on.
    struct StateMachine<Instant: InstantProtocol> where Instant.Duration == Duration {
        /// What the loop knows of one bundle.
        struct Entry: Sendable, Hashable {
            /// The fingerprint last seen; `nil` once the directory is gone.
            var fingerprint: BundleFingerprint?
            /// When the loop last saw the fingerprint change.
            var changedAt: Instant
            /// Whether a change waits for the settle time.
            var isSettling: Bool
            /// The fingerprint last judged, or `nil` if the bundle never was: what the registry's
            /// record (if any) was made from.
            var judged: BundleFingerprint?
        }

        /// What an observation found.
        enum Observation: Sendable, Hashable {
            /// Nothing new.
            case unchanged
            /// Neither known nor there.
            case absent
            /// A bundle not known before.
            case appeared
            /// A known bundle's files changed; `wasSettling` when a change already waited.
            case changed(wasSettling: Bool)
            /// A known bundle's directory is gone; `wasSettling` as for ``changed(wasSettling:)``.
            case vanished(wasSettling: Bool)

            /// Whether the observation started a settle time (not one already running).
            var startsSettling: Bool {
                switch self {
                case .appeared, .changed(wasSettling: false), .vanished(wasSettling: false): true
                default: false
                }
            }

            /// Whether anything changed.
            var isChange: Bool { self != .unchanged && self != .absent }
        }

        /// What the loop must do with a bundle that has settled.
        enum Action: Sendable, Hashable {
            /// Not due, or nothing to do: the bundle is as it was last judged.
            case none
            /// It changed again when looked at; its settle time starts over.
            case wait
            /// Verify and load these files.
            case consider(BundleFingerprint)
            /// The directory is gone: take whatever was made of it out of the registry and drain it.
            case remove
        }

        /// How long a bundle must be quiet before it is judged.
        let settleTime: Duration
        /// Every bundle known, there or waiting to be removed.
        private(set) var entries: [BundleKey: Entry] = [:]

        /// Creates a machine that knows no bundle.
        init(settleTime: Duration) {
            self.settleTime = settleTime
        }

        /// Takes over a bundle the initial load judged: `loaded` is what it loaded (or failed)
        /// from, `current` what is there now. If they differ the bundle is settling, to be
        /// judged again (or removed, when `current` is `nil`).
        mutating func adopt(_ key: BundleKey, loaded: BundleFingerprint?, current: BundleFingerprint?, at now: Instant) {
            let judged = loaded ?? current
            entries[key] = Entry(fingerprint: current, changedAt: now, isSettling: current != judged || current == nil, judged: judged)
        }

        /// Records what is at `key` now.
        mutating func observe(_ key: BundleKey, _ fingerprint: BundleFingerprint?, at now: Instant) -> Observation {
            guard var entry = entries[key] else {
                guard let fingerprint else { return .absent }
                entries[key] = Entry(fingerprint: fingerprint, changedAt: now, isSettling: true, judged: nil)
                return .appeared
            }
            guard entry.fingerprint != fingerprint else { return .unchanged }
            let wasSettling = entry.isSettling
            entry.fingerprint = fingerprint
            entry.changedAt = now
            entry.isSettling = true
            if fingerprint == nil && entry.judged == nil {
                // Appeared and went before it was ever judged: nothing to undo.
                entries[key] = nil
                return .vanished(wasSettling: wasSettling)
            }
            entries[key] = entry
            return fingerprint == nil ? .vanished(wasSettling: wasSettling) : .changed(wasSettling: wasSettling)
        }

        /// The earliest instant a settling bundle is due to be looked at again.
        var nextDeadline: Instant? {
            entries.values.lazy.filter(\.isSettling).map { $0.changedAt.advanced(by: self.settleTime) }.min()
        }

        /// The settling bundles whose settle time has passed at `now`, in name and version order.
        func due(at now: Instant) -> [BundleKey] {
            entries.filter { $0.value.isSettling && $0.value.changedAt.advanced(by: settleTime) <= now }.keys.sorted()
        }

        /// Judges a due bundle, given what is there now.
        ///
        /// - Returns: ``Action/wait`` if it changed again (its settle time restarts), else what to
        ///   do; a bundle considered or removed is not returned again until it changes.
        mutating func settle(_ key: BundleKey, _ fingerprint: BundleFingerprint?, at now: Instant) -> Action {
            guard var entry = entries[key], entry.isSettling, entry.changedAt.advanced(by: settleTime) <= now else { return .none }
            guard entry.fingerprint == fingerprint else {
                _ = observe(key, fingerprint, at: now)
                return entries[key] == nil ? .none : .wait
            }
            entry.isSettling = false
            guard let fingerprint else {
                entries[key] = nil
                return .remove
            }
            if entry.judged == fingerprint {
                entries[key] = entry
                return .none
            }
            entry.judged = fingerprint
            entries[key] = entry
            return .consider(fingerprint)
        }

        /// The versions of `name` known, there or waiting to be removed.
        func versions(of name: String) -> [BundleKey] {
            entries.keys.filter { $0.name == name }.sorted()
        }
    }
}
