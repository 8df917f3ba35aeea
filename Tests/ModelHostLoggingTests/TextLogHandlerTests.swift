import Logging
import Testing

@testable import ModelHostLogging

@Suite struct TextLogHandlerTests {
    @Test func aLineIsTimeLevelLabelMetadataAndMessage() throws {
        let collector = LineCollector()
        Logger.text(collector, label: "modelhost").notice("rollout changed", metadata: ["model": "echo", "change": "canary"])
        let line = try collector.onlyLine()
        #expect(line == "2026-12-03T07:21:04.123Z notice modelhost: change=canary model=echo rollout changed\n")
    }

    @Test func withoutMetadataTheMessageFollowsTheLabel() throws {
        let collector = LineCollector()
        Logger.text(collector, label: "modelhost").info("stopped")
        #expect(try collector.onlyLine() == "2026-12-03T07:21:04.123Z info modelhost: stopped\n")
    }

    @Test func handlerThenProviderThenCallMetadataLaterWins() throws {
        let collector = LineCollector()
        let provider = Logger.MetadataProvider { ["shared": "provider", "trace": "abc"] }
        var logger = Logger.text(collector, metadataProvider: provider)
        logger[metadataKey: "shared"] = "handler"
        logger[metadataKey: "both"] = "handler"
        logger.warning("merged", metadata: ["both": "call"])
        #expect(try collector.onlyLine() == "2026-12-03T07:21:04.123Z warning test: both=call shared=provider trace=abc merged\n")
    }

    @Test func eachCallIsOneWrite() {
        let collector = LineCollector()
        let logger = Logger.text(collector)
        for index in 0..<20 { logger.info("line \(index)") }
        let lines = collector.lines
        #expect(lines.count == 20)
        #expect(lines.allSatisfy { $0.hasSuffix("\n") && $0.filter { $0 == "\n" }.count == 1 })
    }

    @Test func levelsBelowTheLoggersAreNotWritten() {
        let collector = LineCollector()
        var logger = Logger.text(collector)
        logger.logLevel = .error
        logger.warning("quiet")
        logger.error("heard")
        #expect(collector.lines.count == 1)
    }
}
