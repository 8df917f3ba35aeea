#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a log handler's lines go: a standard stream, or a closure for tests.
///
/// A line reaches a standard stream through one `write(2)` of the whole line (the call is repeated
/// only for what a partial write left), so lines from concurrent threads never interleave within a
/// line and no lock is taken. Nothing is buffered in the process, so a line is out as soon as it is
/// logged; `print` to the same stream buffers and may come out of order around these lines.
public struct LogOutput: Sendable {
    private enum Destination: Sendable {
        case fileDescriptor(Int32)
        case custom(@Sendable (String) -> Void)
    }

    private let destination: Destination

    private init(_ destination: Destination) { self.destination = destination }

    /// The process's standard output (file descriptor 1).
    public static let standardOutput = LogOutput(.fileDescriptor(1))

    /// The process's standard error (file descriptor 2).
    public static let standardError = LogOutput(.fileDescriptor(2))

    /// Hands each line, with its trailing `"\n"`, to `receive`, which must be safe to call from
    /// several threads at once.
    public static func custom(_ receive: @escaping @Sendable (String) -> Void) -> LogOutput {
        LogOutput(.custom(receive))
    }

    /// Writes one complete line (it ends with `"\n"`).
    func write(line: String) {
        switch destination {
        case .custom(let receive):
            receive(line)
        case .fileDescriptor(let descriptor):
            var line = line
            line.withUTF8 { Self.write(descriptor, $0) }
        }
    }

    /// Writes one complete line (its bytes end with `"\n"`).
    ///
    /// A stream that cannot be written to (closed, full and non-blocking) loses the line: logging
    /// never fails its caller.
    func write(line: [UInt8]) {
        switch destination {
        case .custom(let receive):
            receive(String(decoding: line, as: UTF8.self))
        case .fileDescriptor(let descriptor):
            line.withUnsafeBufferPointer { Self.write(descriptor, $0) }
        }
    }

    /// Writes `bytes` to `descriptor` in one `write(2)`, repeated only for what a partial write
    /// left or an interrupted one did not write.
    private static func write(_ descriptor: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(descriptor, base, remaining)
            if written > 0 {
                remaining -= written
                base += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// `write(2)`, under a name that the method above does not shadow.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
