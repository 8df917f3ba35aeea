import Logging
import Testing

@testable import ModelHostLogging

@Suite struct LogConfigurationTests {
    @Test func theDefaultsAreTextAtInfo() {
        let configuration = LogConfiguration()
        #expect(configuration.format == .text)
        #expect(configuration.level == .info)
        let handler = configuration.makeHandler(label: "modelhost")
        #expect(handler is TextLogHandler)
        #expect(handler.logLevel == .info)
    }

    @Test func jsonHandlersWriteAtTheConfiguredLevelToTheConfiguredOutput() throws {
        let collector = LineCollector()
        var configuration = LogConfiguration()
        configuration.format = .json
        configuration.level = .debug
        configuration.output = collector.output
        configuration.metadataProvider = Logger.MetadataProvider { ["trace_id": "abc"] }
        let handler = configuration.makeHandler(label: "modelhost.http")
        #expect(handler is JSONLogHandler)
        let logger = Logger(label: "modelhost.http") { _ in handler }
        logger.trace("hidden")
        logger.debug("shown")
        let object = try collector.onlyObject()
        #expect(object["message"] as? String == "shown")
        #expect(object["logger"] as? String == "modelhost.http")
        #expect(object["trace_id"] as? String == "abc")
    }

    @Test func textHandlersWriteToTheConfiguredOutput() throws {
        let collector = LineCollector()
        var configuration = LogConfiguration()
        configuration.level = .warning
        configuration.output = collector.output
        let logger = Logger(label: "modelhost") { configuration.makeHandler(label: $0) }
        logger.info("hidden")
        logger.warning("shown")
        #expect(try collector.onlyLine().hasSuffix(" warning modelhost: shown\n"))
    }
}
