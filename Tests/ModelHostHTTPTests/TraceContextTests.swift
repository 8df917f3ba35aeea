import Testing

@testable import ModelHostHTTP

@Suite struct TraceContextTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aValidHeaderIsReadFieldByField() throws {
        let context = try #require(TraceContext(traceparent: Self.valid))
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.parentID == "00f067aa0ba902b7")
        #expect(context.flags == 1)
        #expect(context.traceparent == Self.valid)
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 is exactly 55
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // a later version's extra part needs a dash
    ])
    func anInvalidHeaderIsRefused(_ header: String) {
        #expect(TraceContext(traceparent: header) == nil)
    }

    @Test func aLaterVersionIsReadByVersionZerosFields() throws {
        let context = try #require(TraceContext(traceparent: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"))
        #expect(context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(context.traceparent == Self.valid)
    }

    @Test func aNewTraceIsValidAndUnique() throws {
        let first = TraceContext.start()
        let second = TraceContext.start()
        #expect(first.traceID != second.traceID)
        #expect(TraceContext(traceparent: first.traceparent) == first)
        #expect(first.traceparent.utf8.count == 55)
        #expect(first.flags == 1)
    }

    @Test func aChildKeepsTheTraceAndTakesANewSpan() throws {
        let caller = try #require(TraceContext(traceparent: Self.valid))
        let child = caller.child()
        #expect(child.traceID == caller.traceID)
        #expect(child.flags == caller.flags)
        #expect(child.parentID != caller.parentID)
        #expect(TraceContext(traceparent: child.traceparent) == child)
    }
}
