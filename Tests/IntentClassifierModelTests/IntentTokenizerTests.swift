import Testing

@testable import IntentClassifierModel

/// The tokenisation rule; `Scripts/train-intent-classifier` must give the same tokens for each case.
struct IntentTokenizerTests {
    @Test(arguments: [
        ("What is my balance?", ["what", "is", "my", "balance"]),
        ("What's my BALANCE??", ["what's", "my", "balance"]),
        ("I\u{2019}ve lost my card", ["i've", "lost", "my", "card"]),
        ("'quoted' words''", ["quoted", "words"]),
        ("send $50.00 to bob@example.com", ["send", "50", "00", "to", "bob", "example", "com"]),
        ("same-day   payment\ttoday\n", ["same", "day", "payment", "today"]),
        ("café au lait", ["caf", "au", "lait"]),
        ("ÄTM İstanbul", ["tm", "stanbul"]),
        ("' ''  '", []),
        ("", []),
    ])
    func tokens(query: String, expected: [String]) {
        #expect(IntentTokenizer.tokens(in: Array(query.utf8)) == expected)
    }

    @Test func invalidUTF8BytesOnlySeparateTokens() {
        #expect(IntentTokenizer.tokens(in: [0x61, 0xFF, 0x62, 0xE2, 0x80]) == ["a", "b"])
    }

    @Test func featuresAreUnigramsThenBigrams() {
        #expect(IntentTokenizer.features(in: Array("Lost my card".utf8)) == ["lost", "my", "card", "lost my", "my card"])
        #expect(IntentTokenizer.features(in: Array("balance".utf8)) == ["balance"])
        #expect(IntentTokenizer.features(in: Array("...".utf8)).isEmpty)
    }

    @Test func repeatedTokensAreKept() {
        #expect(IntentTokenizer.features(in: Array("card card".utf8)) == ["card", "card", "card card"])
    }
}
