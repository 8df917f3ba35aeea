import Foundation
import Logging
import Testing

@testable import ModelHostLogging

@Suite struct JSONLogHandlerTests {
    private func logger(_ lines: Lines, level: Logger.Level = .info) -> Logger {
        Logger(label: "modelhost.test") { label in JSONLogHandler(label: label, output: lines.output, level: level) }
    }

    private func parse(_ line: String) throws -> [String: Any] {
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func eachEntryIsOneLineWithTheFixedFieldsThenTheMetadata() throws {
        let lines = Lines()
        var logger = logger(lines)
        logger[metadataKey: "replica"] = "a"
        logger.info("request", metadata: ["model": "echo", "status": .stringConvertible(200), "total_seconds": .stringConvertible(0.00125)])
        #expect(lines.all.count == 1)
        let line = lines.all[0]
        #expect(line.hasPrefix("{\"time\":\""))
        let record = try parse(line)
        #expect(record["level"] as? String == "info")
        #expect(record["logger"] as? String == "modelhost.test")
        #expect(record["message"] as? String == "request")
        #expect(record["model"] as? String == "echo")
        #expect(record["replica"] as? String == "a")
        // Numbers stay numbers.
        #expect(record["status"] as? Int == 200)
        #expect(record["total_seconds"] as? Double == 0.00125)
        let time = try #require(record["time"] as? String)
        #expect(time.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
    }

    @Test func levelsBelowTheHandlersAreNotWritten() {
        let lines = Lines()
        let logger = logger(lines, level: .notice)
        logger.info("quiet")
        logger.notice("loud")
        #expect(lines.all.count == 1)
    }

    @Test func stringsAreEscapedAndNestedValuesKeepTheirShape() throws {
        let lines = Lines()
        logger(lines).warning("a \"quoted\"\nmessage\t\u{1}", metadata: [
            "nested": ["inner": "x", "count": .stringConvertible(3)],
            "list": [.string("a"), .stringConvertible(true)],
            "message": "shadowed",
        ])
        let record = try parse(lines.all[0])
        #expect(record["message"] as? String == "a \"quoted\"\nmessage\t\u{1}")
        #expect(record["meta_message"] as? String == "shadowed")
        let nested = try #require(record["nested"] as? [String: Any])
        #expect(nested["inner"] as? String == "x" && nested["count"] as? Int == 3)
        let list = try #require(record["list"] as? [Any])
        #expect(list.first as? String == "a" && list.last as? Bool == true)
    }

    @Test func secretLookingFieldsAreRedactedAtEveryDepth() throws {
        let lines = Lines()
        logger(lines).info("headers", metadata: [
            "Authorization": "Bearer mh_secret_value_1",
            "headers": ["X-API-Key": "mh_secret_value_2", "accept": "json"],
            "db_password": "mh_secret_value_3",
        ])
        let line = lines.all[0]
        for secret in ["mh_secret_value_1", "mh_secret_value_2", "mh_secret_value_3"] {
            #expect(!line.contains(secret))
        }
        let record = try parse(line)
        #expect(record["Authorization"] as? String == SecretRedaction.placeholder)
        #expect((record["headers"] as? [String: Any])?["accept"] as? String == "json")
    }
}
