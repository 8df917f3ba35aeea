import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Telemetry

@Suite struct ProcessStatisticsTests {
    @Test func theCurrentProcessReportsItsResources() throws {
        let statistics = ProcessStatistics.current()
        let resident = try #require(statistics.residentMemoryBytes)
        let virtual = try #require(statistics.virtualMemoryBytes)
        #expect(resident > 1 << 20)
        #expect(virtual >= resident)
        #expect(try #require(statistics.cpuSeconds) > 0)
        #expect(try #require(statistics.openFileDescriptors) >= 3)
        #expect(try #require(statistics.maxFileDescriptors) >= 3)
        // Started after 2020 and not in the future.
        let started = try #require(statistics.startTimeSeconds)
        #expect(started > 1_577_836_800)
        #expect(started < Double(time(nil)) + 5)
    }

    @Test func theCommandNameMayHoldSpacesAndParentheses() throws {
        let fields = try #require(ProcessStatistics.statFields("42 (a (b) c) S 1 2 3"))
        #expect(fields == ["S", "1", "2", "3"])
    }
}
