#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go. Each line, newline included, is written with one call, so lines from
/// different threads never interleave.
public struct LogOutput: Sendable {
    private let writeLine: @Sendable (String) -> Void

    private init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    /// Standard output.
    public static let standardOutput = LogOutput { line in writeAll(line, to: 1) }
    /// Standard error, unbuffered.
    public static let standardError = LogOutput { line in writeAll(line, to: 2) }

    /// Lines handed to `body`, for tests and embedding.
    public static func custom(_ body: @escaping @Sendable (String) -> Void) -> LogOutput {
        LogOutput(body)
    }

    /// Writes one line, which ends with a newline.
    func write(_ line: String) {
        writeLine(line)
    }

    private static func writeAll(_ line: String, to descriptor: Int32) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                #if canImport(Glibc)
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                #else
                let written = -1
                #endif
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return  // A closed or full stream: the line is dropped rather than blocking forever.
                }
            }
        }
    }
}
