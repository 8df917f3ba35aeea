import ModelHostHTTP
import Testing

@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidHeaderParsesIntoItsFields() throws {
        let context = try #require(TraceContext(traceparent: Self.valid))
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentID == "00f067aa0ba902b7")
        #expect(context.flags == 0x01)
        #expect(context.isSampled)
    }

    @Test func flagsOtherThanSampledAreKept() throws {
        let context = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe"))
        #expect(context.flags == 0xFE)
        #expect(!context.isSampled)
        #expect(context.traceparent.hasSuffix("-fe"))
    }

    @Test(arguments: [
        ("", "empty"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "too short"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "version 00 too long"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", "version 00 with trailing space"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "all-zero trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "all-zero parent id"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "uppercase trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "uppercase parent id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", "uppercase flags"),
        ("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "uppercase version"),
        ("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "non-hex version"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "non-hex trace id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01", "non-hex parent id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", "non-hex flags"),
        ("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "wrong first separator"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "wrong second separator"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", "wrong third separator"),
        ("00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01", "fields of the wrong widths"),
        ("00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01", "non-ASCII"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "later version, no dash after 55"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "later version too short"),
    ])
    func invalidHeadersAreRejected(header: String, reason: String) {
        #expect(TraceContext(traceparent: header) == nil, "\(reason)")
    }

    @Test(arguments: [
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
        "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
    ])
    func laterVersionsAreReadAsVersion00(header: String) throws {
        let context = try #require(TraceContext(traceparent: header))
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentID == "00f067aa0ba902b7")
        #expect(context.traceparent == Self.valid)
    }

    @Test func startMakesValidSampledUniqueIDs() throws {
        var traceIDs: Set<String> = []
        var parentIDs: Set<String> = []
        for _ in 0..<1_000 {
            let context = TraceContext.start()
            #expect(context.flags == 0x01)
            #expect(context.traceID.utf8.count == 32)
            #expect(context.parentID.utf8.count == 16)
            #expect(context.traceID.utf8.allSatisfy(Self.isLowercaseHex))
            #expect(context.parentID.utf8.allSatisfy(Self.isLowercaseHex))
            #expect(TraceContext(traceparent: context.traceparent) == context)
            traceIDs.insert(context.traceID)
            parentIDs.insert(context.parentID)
        }
        #expect(traceIDs.count == 1_000)
        #expect(parentIDs.count == 1_000)
    }

    @Test func spanIDsFromConcurrentTasksAreAllDistinct() async {
        let parent = TraceContext.start()
        let ids = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<4 {
                group.addTask { (0..<2_000).map { _ in parent.child().parentID } }
            }
            return await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(ids.count == 8_000)
        #expect(Set(ids).count == 8_000)
        #expect(!ids.contains("0000000000000000"))
    }

    @Test func aChildKeepsTheTraceAndFlagsWithANewSpan() throws {
        let parent = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"))
        let first = parent.child()
        let second = parent.child()
        #expect(first.traceID == parent.traceID)
        #expect(first.flags == parent.flags)
        #expect(first.parentID != parent.parentID)
        #expect(second.parentID != first.parentID)
        #expect(TraceContext(traceparent: first.traceparent) == first)
    }

    @Test func aHeaderRoundTrips() throws {
        for header in [Self.valid, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"] {
            let context = try #require(TraceContext(traceparent: header))
            #expect(context.traceparent == header)
        }
    }

    private static func isLowercaseHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
