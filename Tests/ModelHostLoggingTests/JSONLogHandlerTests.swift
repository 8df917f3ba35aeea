import Foundation
import Logging
import Testing

@testable import ModelHostLogging

@Suite struct JSONLogHandlerTests {
    struct Failure: Error, CustomStringConvertible {
        var description: String { "disk full" }
    }

    @Test func aLineStartsWithTimeLevelLoggerAndMessageInThatOrder() throws {
        let collector = LineCollector()
        Logger.json(collector, label: "modelhost.http").info("request", metadata: ["model": "echo"])
        let line = try collector.onlyLine()
        #expect(line == #"{"time":"2026-12-03T07:21:04.123Z","level":"info","logger":"modelhost.http","message":"request","model":"echo"}"# + "\n")
    }

    @Test(arguments: [Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical])
    func levelsHaveSwiftLogNames(level: Logger.Level) throws {
        let collector = LineCollector()
        Logger.json(collector).log(level: level, "event")
        let object = try collector.onlyObject()
        #expect(object["level"] as? String == level.rawValue)
    }

    @Test func levelsBelowTheLoggersAreNotWritten() {
        let collector = LineCollector()
        var logger = Logger.json(collector)
        logger.logLevel = .notice
        logger.info("quiet")
        logger.debug("quieter")
        logger.notice("heard")
        #expect(collector.lines.count == 1)
    }

    @Test func everyCallWritesExactlyOneCompleteLine() throws {
        let collector = LineCollector()
        let logger = Logger.json(collector)
        for index in 0..<50 {
            logger.info("line \(index)\nwith a newline", metadata: ["index": "\(index)", "text": "a\nb\r\n"])
        }
        let lines = collector.lines
        #expect(lines.count == 50)
        for (index, line) in lines.enumerated() {
            #expect(line.hasSuffix("}\n"))
            #expect(line.filter { $0 == "\n" || $0 == "\r" }.count == 1)
            let object = try LineCollector.parse(line)
            #expect(object["message"] as? String == "line \(index)\nwith a newline")
            #expect(object["text"] as? String == "a\nb\r\n")
        }
    }

    @Test func sourceFileFunctionAndLineAreNotWritten() throws {
        let collector = LineCollector()
        Logger.json(collector).info("event", source: "SomeModule")
        let object = try collector.onlyObject()
        #expect(Set(object.keys) == ["time", "level", "logger", "message"])
    }

    @Test func stringConvertibleNumbersAndBooleansKeepTheirJSONTypes() throws {
        let collector = LineCollector()
        Logger.json(collector).info(
            "typed",
            metadata: [
                "int": .stringConvertible(42),
                "negative": .stringConvertible(-7 as Int8),
                "intMin": .stringConvertible(Int.min),
                "uint64Max": .stringConvertible(UInt64.max),
                "double": .stringConvertible(0.25),
                "negativeDouble": .stringConvertible(-3.5),
                "negativeInfinity": .stringConvertible(-Double.infinity),
                "int128": .stringConvertible(Int128(1) << 100),
                "tiny": .stringConvertible(1e-5),
                "float": .stringConvertible(1.5 as Float),
                "infinity": .stringConvertible(Double.infinity),
                "nan": .stringConvertible(Float.nan),
                "true": .stringConvertible(true),
                "false": .stringConvertible(false),
                "other": .stringConvertible(Failure()),
                "string": "42",
            ]
        )
        let line = try collector.onlyLine()
        // The raw text shows which JSON type each value has.
        for member in [
            #""int":42"#, #""negative":-7"#, #""intMin":-9223372036854775808"#, #""uint64Max":18446744073709551615"#,
            #""double":0.25"#, #""negativeDouble":-3.5"#, #""negativeInfinity":"-inf""#,
            #""int128":1267650600228229401496703205376"#, #""tiny":1e-05"#, #""float":1.5"#, #""infinity":"inf""#, #""nan":"nan""#,
            #""true":true"#, #""false":false"#, #""other":"disk full""#, #""string":"42""#,
        ] {
            #expect(line.contains(member), "\(member) in \(line)")
        }
        let object = try LineCollector.parse(line)
        #expect((object["int"] as? NSNumber)?.intValue == 42)
        #expect((object["double"] as? NSNumber)?.doubleValue == 0.25)
        #expect(object["string"] as? String == "42")
    }

    @Test func stringsAreEscaped() throws {
        let collector = LineCollector()
        let awkward = "quote \" backslash \\ slash / tab \t newline \n return \r bell \u{07} nul \u{00} esc \u{1B} é ✓ 🚀 \u{7F}"
        Logger.json(collector, label: "label \"quoted\"").info("\(awkward)", metadata: ["key \"q\"\n": .string(awkward)])
        let line = try collector.onlyLine()
        #expect(line.contains(#"\u0007"#))
        #expect(line.contains(#"\u0000"#))
        #expect(line.contains(#"\u001b"#))
        #expect(line.contains(#"\t"#))
        let object = try LineCollector.parse(line)
        #expect(object["message"] as? String == awkward)
        #expect(object["logger"] as? String == "label \"quoted\"")
        #expect(object["key \"q\"\n"] as? String == awkward)
    }

    @Test func nestedMetadataBecomesObjectsAndArrays() throws {
        let collector = LineCollector()
        Logger.json(collector).info(
            "nested",
            metadata: [
                "request": [
                    "model": "echo",
                    "sizes": [.stringConvertible(1), .stringConvertible(2)],
                    "inputs": [["name": "x", "shape": [.stringConvertible(3)]], "plain"],
                ],
                "empty": [:],
                "none": [],
            ]
        )
        let object = try collector.onlyObject()
        let request = try #require(object["request"] as? [String: Any])
        #expect(request["model"] as? String == "echo")
        #expect((request["sizes"] as? [NSNumber])?.map(\.intValue) == [1, 2])
        let inputs = try #require(request["inputs"] as? [Any])
        #expect(inputs.count == 2)
        let first = try #require(inputs.first as? [String: Any])
        #expect(first["name"] as? String == "x")
        #expect((first["shape"] as? [NSNumber])?.map(\.intValue) == [3])
        #expect(inputs.last as? String == "plain")
        #expect((object["empty"] as? [String: Any])?.isEmpty == true)
        #expect((object["none"] as? [Any])?.isEmpty == true)
    }

    @Test func metadataIsWrittenInKeyOrder() throws {
        let collector = LineCollector()
        Logger.json(collector).info("ordered", metadata: ["b": "2", "c": ["z": "1", "y": "2"], "a": "1"])
        let line = try collector.onlyLine()
        #expect(line.hasSuffix(#""message":"ordered","a":"1","b":"2","c":{"y":"2","z":"1"}}"# + "\n"))
    }

    @Test func handlerThenProviderThenCallMetadataLaterWins() throws {
        let collector = LineCollector()
        let provider = Logger.MetadataProvider { ["provided": "p", "shared": "provider", "both": "provider"] }
        var logger = Logger.json(collector, metadataProvider: provider)
        logger[metadataKey: "handler"] = "h"
        logger[metadataKey: "shared"] = "handler"
        logger.info("merged", metadata: ["both": "call", "call": "c"])
        let object = try collector.onlyObject()
        #expect(object["handler"] as? String == "h")
        #expect(object["provided"] as? String == "p")
        #expect(object["call"] as? String == "c")
        #expect(object["shared"] as? String == "provider")
        #expect(object["both"] as? String == "call")
    }

    @Test func metadataNamedLikeAFixedFieldIsPrefixed() throws {
        let collector = LineCollector()
        Logger.json(collector).info(
            "the message",
            metadata: ["message": "shadow", "time": "t", "meta_time": "already", "level": "l", "logger": "g"]
        )
        let line = try collector.onlyLine()
        #expect(line.components(separatedBy: #""message":"#).count == 2)
        let object = try LineCollector.parse(line)
        #expect(object["message"] as? String == "the message")
        #expect(object["meta_message"] as? String == "shadow")
        #expect(object["meta_time"] as? String == "already")
        #expect(object["meta_meta_time"] as? String == "t")
        #expect(object["meta_level"] as? String == "l")
        #expect(object["meta_logger"] as? String == "g")
        #expect(object["time"] as? String == "2026-12-03T07:21:04.123Z")
    }

    @Test func anErrorIsWrittenAsItsMessageAndType() throws {
        let collector = LineCollector()
        Logger.json(collector).error("save failed", error: Failure())
        let object = try collector.onlyObject()
        #expect(object["error.message"] as? String == "disk full")
        #expect((object["error.type"] as? String)?.hasSuffix("Failure") == true)
    }

    @Test func theRealClockGivesTheCurrentTime() throws {
        let collector = LineCollector()
        var logger = Logger(label: "clock") { JSONLogHandler(label: $0, output: collector.output) }
        logger.logLevel = .info
        let before = Date()
        logger.info("now")
        let after = Date()
        let object = try collector.onlyObject()
        let time = try #require(object["time"] as? String)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamped = try #require(formatter.date(from: time))
        #expect(stamped.timeIntervalSince(before) > -0.002)
        #expect(stamped.timeIntervalSince(after) < 0.002)
    }
}
