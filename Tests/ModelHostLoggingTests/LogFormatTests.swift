import Logging
import Testing

@testable import ModelHostLogging

@Suite struct LogFormatTests {
    @Test func formatsAreNamed() {
        #expect(LogFormat("json") == .json)
        #expect(LogFormat("TEXT") == .text)
        #expect(LogFormat("yaml") == nil)
        #expect(LogFormat.allNames == ["json", "text"])
    }

    @Test func theConfigurationMakesTheHandlerOfItsFormatAndLevel() {
        var configuration = LogConfiguration()
        configuration.format = .json
        configuration.level = .warning
        let handler = configuration.makeHandler(label: "x")
        #expect(handler is JSONLogHandler)
        #expect(handler.logLevel == .warning)
        configuration.format = .text
        #expect(configuration.makeHandler(label: "x") is TextLogHandler)
    }

    @Test func timestampsArePaddedRFC3339() {
        #expect(LogTimestamp.format(year: 2026, month: 1, day: 2, hour: 3, minute: 4, second: 5, millisecond: 6) == "2026-01-02T03:04:05.006Z")
    }
}
