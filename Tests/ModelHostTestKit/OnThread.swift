import Foundation

/// Runs blocking work (a child process, a blocking socket, `usleep`) on a thread of its own and
/// waits for it, so that tests never hold one of Swift's few cooperative threads while others
/// need them.
public func onThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
    }
}
