/// Waits, polling every 10 ms, until `condition` holds.
///
/// - Throws: ``TestKitError`` when it does not hold within `limit`, which fails the test.
public func waitUntil(_ limit: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            throw TestKitError("the condition did not hold within \(limit)")
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
