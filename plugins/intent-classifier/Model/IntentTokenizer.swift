/// Splits a query into the features the intent model scores (rule `modelhost.intent-tokenizer.v1`).
///
/// The rule works on the query's UTF-8 bytes and is the one `Scripts/train-intent-classifier`
/// trains with; the two must stay identical, byte for byte:
///
/// 1. Each byte sequence `E2 80 99` (U+2019, the typographic apostrophe) counts as an apostrophe, `'`.
/// 2. ASCII letters `A`–`Z` are lowercased. No other byte changes: there is no Unicode case folding.
/// 3. Tokens are the maximal runs of bytes in `[a-z0-9']`; every other byte, including every byte of
///    a non-ASCII character, separates tokens.
/// 4. Leading and trailing apostrophes are stripped from each token; tokens left empty are dropped.
///
/// The features are the tokens (unigrams) followed by each pair of adjacent tokens joined by one
/// space (bigrams), in order, repeats kept.
enum IntentTokenizer {
    /// The name of the rule, which a model artifact must declare.
    static let rule = "modelhost.intent-tokenizer.v1"

    /// The tokens of a query.
    ///
    /// - Parameter utf8: The query's UTF-8 bytes. Invalid sequences are not an error here: their
    ///   bytes are non-ASCII, so they only separate tokens.
    /// - Returns: The tokens, in order.
    static func tokens(in utf8: some Collection<UInt8>) -> [String] {
        let bytes = Array(utf8)
        var tokens: [String] = []
        var current: [UInt8] = []
        var index = 0
        while index < bytes.count {
            var byte = bytes[index]
            index += 1
            if byte == 0xE2, index + 1 < bytes.count, bytes[index] == 0x80, bytes[index + 1] == 0x99 {
                byte = apostrophe
                index += 2
            } else if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") {
                byte += 0x20
            }
            if isTokenByte(byte) {
                current.append(byte)
            } else {
                appendToken(current, to: &tokens)
                current.removeAll(keepingCapacity: true)
            }
        }
        appendToken(current, to: &tokens)
        return tokens
    }

    /// The features of a query: its tokens, then its bigrams.
    ///
    /// - Parameter utf8: The query's UTF-8 bytes.
    /// - Returns: The unigrams in order, followed by the bigrams (`"lost my"`) in order.
    static func features(in utf8: some Collection<UInt8>) -> [String] {
        let tokens = tokens(in: utf8)
        guard tokens.count > 1 else { return tokens }
        var features = tokens
        features.reserveCapacity(2 * tokens.count - 1)
        for index in 1..<tokens.count {
            features.append(tokens[index - 1] + " " + tokens[index])
        }
        return features
    }

    private static let apostrophe = UInt8(ascii: "'")

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == apostrophe
    }

    private static func appendToken(_ run: [UInt8], to tokens: inout [String]) {
        guard let first = run.firstIndex(where: { $0 != apostrophe }),
            let last = run.lastIndex(where: { $0 != apostrophe })
        else { return }
        tokens.append(String(decoding: run[first...last], as: UTF8.self))
    }
}
