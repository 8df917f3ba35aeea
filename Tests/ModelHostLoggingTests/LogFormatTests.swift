import Testing

@testable import ModelHostLogging

@Suite struct LogFormatTests {
    @Test func namesParseToTheirFormats() {
        #expect(LogFormat("json") == .json)
        #expect(LogFormat("text") == .text)
    }

    @Test(arguments: ["", "JSON", "Text", "yaml", " json", "json "])
    func otherNamesDoNotParse(name: String) {
        #expect(LogFormat(name) == nil)
    }

    @Test func allNamesRoundTripThroughDescription() {
        #expect(LogFormat.allNames == ["json", "text"])
        for name in LogFormat.allNames {
            #expect(LogFormat(name)?.description == name)
        }
        #expect(LogFormat.json != LogFormat.text)
    }
}
