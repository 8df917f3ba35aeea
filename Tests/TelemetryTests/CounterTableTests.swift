import Foundation
import Testing

@testable import Telemetry

@Suite struct CounterTableTests {
    @Test func countsAreSummedAcrossTheThreadsThatRecordedThem() async {
        let table = CounterTable(shardCount: 4)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    // A thread of its own each, so the counts land in several shards.
                    await withCheckedContinuation { continuation in
                        Thread {
                            for index in 0..<1000 { table.increment(index.isMultiple(of: 4) ? "rare" : "common") }
                            continuation.resume()
                        }.start()
                    }
                }
            }
        }
        #expect(table.counts == ["common": 6000, "rare": 2000])
    }

    @Test func anAmountIsAddedAtOnce() {
        let table = CounterTable()
        table.increment("x", by: 5)
        table.increment("x")
        #expect(table.counts["x"] == 6)
        #expect(table.counts["y"] == nil)
    }
}
