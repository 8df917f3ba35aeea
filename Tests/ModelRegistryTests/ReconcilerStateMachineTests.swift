import ModelHostTestKit
import Testing

@testable import ModelRegistry

/// The settle rule and "not again until it changes", decided without files or a real clock;
/// the cap's choice; and which events ask the loop to look where.
struct ReconcilerStateMachineTests {
    typealias Machine = ModelReconciler.StateMachine<ManualClock.Instant>

    private static let key = BundleKey(name: "m", version: "1.0.0")
    private static let settle = Duration.milliseconds(500)

    private func at(_ milliseconds: Int) -> ManualClock.Instant {
        ManualClock.Instant(offset: .milliseconds(milliseconds))
    }

    /// A fingerprint that differs for each `size`.
    private func files(_ size: Int64) -> BundleFingerprint {
        BundleFingerprint(entries: [
            .init(path: "", mode: 0o40755, size: 4096, inode: 1, modified: 0, changed: 0),
            .init(path: "manifest.json", mode: 0o100644, size: size, inode: 2, modified: size, changed: size),
        ])
    }

    // MARK: Settling

    @Test func aNewBundleIsConsideredOnlyOnceQuietForTheSettleTime() {
        var machine = Machine(settleTime: Self.settle)
        #expect(machine.observe(Self.key, files(1), at: at(0)) == .appeared)
        #expect(machine.nextDeadline == at(500))
        #expect(machine.due(at: at(499)).isEmpty)
        #expect(machine.settle(Self.key, files(1), at: at(499)) == .none)
        #expect(machine.due(at: at(500)) == [Self.key])
        #expect(machine.settle(Self.key, files(1), at: at(500)) == .consider(files(1)))
        #expect(machine.nextDeadline == nil)
    }

    @Test func everyChangeStartsTheSettleTimeAgain() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        #expect(machine.observe(Self.key, files(2), at: at(400)) == .changed(wasSettling: true))
        #expect(machine.due(at: at(500)).isEmpty)
        #expect(machine.nextDeadline == at(900))
        // A change seen only when the deadline comes (no event announced it) restarts it too.
        #expect(machine.settle(Self.key, files(3), at: at(900)) == .wait)
        #expect(machine.nextDeadline == at(1400))
        #expect(machine.settle(Self.key, files(3), at: at(1400)) == .consider(files(3)))
    }

    @Test func onlyTheFirstChangeOfABurstStartsSettling() {
        var machine = Machine(settleTime: Self.settle)
        #expect(machine.observe(Self.key, files(1), at: at(0)).startsSettling)
        #expect(!machine.observe(Self.key, files(2), at: at(10)).startsSettling)
        #expect(!machine.observe(Self.key, files(2), at: at(20)).isChange)
    }

    // MARK: Judged once

    @Test func aJudgedBundleIsNotConsideredAgainUntilItChanges() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        #expect(machine.settle(Self.key, files(1), at: at(500)) == .consider(files(1)))
        for step in 1...20 {
            #expect(machine.observe(Self.key, files(1), at: at(500 + step * 200)) == .unchanged)
            #expect(machine.due(at: at(500 + step * 200)).isEmpty)
        }
        #expect(machine.observe(Self.key, files(2), at: at(5000)) == .changed(wasSettling: false))
        #expect(machine.settle(Self.key, files(2), at: at(5500)) == .consider(files(2)))
    }

    @Test func aChangeUndoneBeforeItSettlesCostsNothing() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        _ = machine.settle(Self.key, files(1), at: at(500))
        _ = machine.observe(Self.key, files(2), at: at(1000))
        _ = machine.observe(Self.key, files(1), at: at(1100))
        #expect(machine.settle(Self.key, files(1), at: at(1600)) == .none)
        #expect(machine.nextDeadline == nil)
    }

    // MARK: Going

    @Test func aJudgedBundleThatGoesIsRemovedOnceSettled() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        _ = machine.settle(Self.key, files(1), at: at(500))
        #expect(machine.observe(Self.key, nil, at: at(1000)) == .vanished(wasSettling: false))
        #expect(machine.settle(Self.key, nil, at: at(1499)) == .none)
        #expect(machine.settle(Self.key, nil, at: at(1500)) == .remove)
        #expect(machine.entries.isEmpty)
        #expect(machine.observe(Self.key, nil, at: at(2000)) == .absent)
    }

    @Test func removedAndRecreatedWithinTheSettleTimeIsAChangeNotARemoval() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        _ = machine.settle(Self.key, files(1), at: at(500))
        _ = machine.observe(Self.key, nil, at: at(1000))
        #expect(machine.observe(Self.key, files(2), at: at(1010)) == .changed(wasSettling: true))
        #expect(machine.settle(Self.key, files(2), at: at(1510)) == .consider(files(2)))
    }

    @Test func aBundleThatGoesBeforeItIsEverJudgedIsForgotten() {
        var machine = Machine(settleTime: Self.settle)
        _ = machine.observe(Self.key, files(1), at: at(0))
        #expect(machine.observe(Self.key, nil, at: at(100)) == .vanished(wasSettling: true))
        #expect(machine.entries.isEmpty)
        #expect(machine.nextDeadline == nil)
    }

    // MARK: Taking over the initial load

    @Test func anAdoptedBundleIsJudgedAgainOnlyIfItChangedSinceItLoaded() {
        var machine = Machine(settleTime: Self.settle)
        let same = BundleKey(name: "m", version: "1.0.0")
        let edited = BundleKey(name: "m", version: "2.0.0")
        let deleted = BundleKey(name: "m", version: "3.0.0")
        machine.adopt(same, loaded: files(1), current: files(1), at: at(0))
        machine.adopt(edited, loaded: files(1), current: files(2), at: at(0))
        machine.adopt(deleted, loaded: files(1), current: nil, at: at(0))
        #expect(machine.due(at: at(500)) == [edited, deleted].sorted())
        #expect(machine.settle(edited, files(2), at: at(500)) == .consider(files(2)))
        #expect(machine.settle(deleted, nil, at: at(500)) == .remove)
        #expect(machine.settle(same, files(1), at: at(500)) == .none)
        #expect(machine.versions(of: "m") == [same, edited])
    }

    // MARK: The cap

    @Test(arguments: [
        (["1.0.0", "2.0.0", "3.0.0", "4.0.0"], "4.0.0", 3, [String](), ["1.0.0"]),
        (["1.0.0", "2.0.0", "3.0.0", "4.0.0"], "4.0.0", 2, [], ["1.0.0", "2.0.0"]),
        (["1.0.0", "2.0.0", "3.0.0"], "1.0.0", 1, [], ["2.0.0", "3.0.0"]),
        (["1.0.0", "2.0.0", "3.0.0"], "3.0.0", 1, ["1.0.0"], ["2.0.0"]),
        (["1.0.0", "2.0.0"], "2.0.0", 1, ["1.0.0"], []),
        (["1.0.0", "2.0.0"], nil, 3, [], []),
        (["1.0.0", "2.0.0"], "2.0.0", 0, [], ["1.0.0"]),
    ] as [([String], String?, Int, [String], [String])])
    func theCapUnloadsTheOldestThatAreNeitherActiveNorProtected(
        resident: [String], active: String?, limit: Int, protected: [String], expected: [String]
    ) {
        #expect(ResidencyCap.versionsToUnload(resident: resident, active: active, limit: limit, isProtected: protected.contains) == expected)
    }

    // MARK: Where an event asks the loop to look

    @Test(arguments: [
        ("/models", "echo", ChangeInbox.Pending(models: ["echo"])),
        ("/models/echo", "1.0.0", ChangeInbox.Pending(bundles: [BundleKey(name: "echo", version: "1.0.0")])),
        ("/models/echo/1.0.0", "manifest.json", ChangeInbox.Pending(bundles: [BundleKey(name: "echo", version: "1.0.0")])),
        ("/models/echo/1.0.0", nil, ChangeInbox.Pending(bundles: [BundleKey(name: "echo", version: "1.0.0")])),
        ("/models/echo", nil, ChangeInbox.Pending(models: ["echo"])),
        ("/models", nil, ChangeInbox.Pending(isFullRescanDue: true)),
        ("/models", ".staging", ChangeInbox.Pending()),
        ("/models/echo", ".1.0.0-incoming", ChangeInbox.Pending()),
        ("/models/echo/1.0.0", ".manifest.json.swp", ChangeInbox.Pending()),
        ("/elsewhere", "echo", ChangeInbox.Pending()),
        ("/models-other", "echo", ChangeInbox.Pending()),
    ] as [(String, String?, ChangeInbox.Pending)])
    func eventsAskForTheFolderTheyConcern(directory: String, name: String?, expected: ChangeInbox.Pending) {
        var pending = ChangeInbox.Pending()
        ChangeInbox.record(DirectoryWatcher.Event(directory: directory, name: name, mask: .created), root: "/models", in: &pending)
        #expect(pending == expected)
    }

    @Test func anOverflowAsksForAFullRescan() {
        var pending = ChangeInbox.Pending()
        ChangeInbox.record(DirectoryWatcher.Event(directory: "", name: nil, mask: .overflow), root: "/models", in: &pending)
        #expect(pending.isFullRescanDue && pending.didOverflow)
    }
}
