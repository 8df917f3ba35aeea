import Logging
import Testing

@testable import ModelHostLogging

@Suite struct TextLogHandlerTests {
    @Test func aLineIsTimeLevelLabelFieldsThenMessage() {
        let lines = Lines()
        let logger = Logger(label: "modelhost") { TextLogHandler(label: $0, output: lines.output) }
        logger.notice("rollout changed", metadata: ["model": "echo", "event": "rollout_changed", "x-api-key": "mh_leak"])
        let line = lines.all[0]
        #expect(line.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z notice modelhost: event=rollout_changed model=echo x-api-key=\[REDACTED\] rollout changed\n$"#, options: .regularExpression) != nil, "\(line)")
        #expect(!line.contains("mh_leak"))
    }
}
