#if canImport(Glibc)
import Glibc
#endif

/// The process's own resource use, read from `/proc` when asked: what Prometheus' standard
/// `process_*` metrics report. Fields the system does not provide are `nil`.
public struct ProcessStatistics: Sendable, Hashable {
    /// Resident memory, in bytes.
    public var residentMemoryBytes: UInt64?
    /// Virtual memory, in bytes.
    public var virtualMemoryBytes: UInt64?
    /// User and system CPU time, in seconds.
    public var cpuSeconds: Double?
    /// When the process started, in seconds since the Unix epoch.
    public var startTimeSeconds: Double?
    /// Open file descriptors.
    public var openFileDescriptors: Int?
    /// The soft limit on open file descriptors.
    public var maxFileDescriptors: Int?

    /// Creates statistics with every field given.
    public init(
        residentMemoryBytes: UInt64? = nil, virtualMemoryBytes: UInt64? = nil, cpuSeconds: Double? = nil,
        startTimeSeconds: Double? = nil, openFileDescriptors: Int? = nil, maxFileDescriptors: Int? = nil
    ) {
        self.residentMemoryBytes = residentMemoryBytes
        self.virtualMemoryBytes = virtualMemoryBytes
        self.cpuSeconds = cpuSeconds
        self.startTimeSeconds = startTimeSeconds
        self.openFileDescriptors = openFileDescriptors
        self.maxFileDescriptors = maxFileDescriptors
    }

    /// The current process's statistics.
    public static func current() -> ProcessStatistics {
        var statistics = ProcessStatistics()
        #if os(Linux)
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        if let stat = readFile("/proc/self/stat"), let fields = statFields(stat), fields.count > 21, ticks > 0 {
            // Fields from the third (state) on: utime 14, stime 15, starttime 22, vsize 23, rss 24.
            if let user = Double(fields[14 - 3]), let system = Double(fields[15 - 3]) {
                statistics.cpuSeconds = (user + system) / ticks
            }
            statistics.virtualMemoryBytes = UInt64(fields[23 - 3])
            statistics.residentMemoryBytes = UInt64(fields[24 - 3]).map { $0 * pageSize }
            if let started = Double(fields[22 - 3]), let bootTime = bootTime() {
                statistics.startTimeSeconds = bootTime + started / ticks
            }
        }
        statistics.openFileDescriptors = countEntries(of: "/proc/self/fd")
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            statistics.maxFileDescriptors = Int(clamping: limit.rlim_cur)
        }
        #endif
        return statistics
    }

    /// The fields of `/proc/self/stat` after the command name, which may itself hold spaces.
    static func statFields(_ text: String) -> [Substring]? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
    }

    private static func bootTime() -> Double? {
        guard let stat = readFile("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingPrefix(" "))
        }
        return nil
    }

    private static func readFile(_ path: String) -> String? {
        #if canImport(Glibc)
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
        #else
        return nil
        #endif
    }

    private static func countEntries(of directory: String) -> Int? {
        #if canImport(Glibc)
        guard let handle = opendir(directory) else { return nil }
        defer { closedir(handle) }
        var count = 0
        while let entry = readdir(handle) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { name in
                name[0] == UInt8(ascii: ".") && (name[1] == 0 || (name[1] == UInt8(ascii: ".") && name[2] == 0))
            }
            if !isDot { count += 1 }
        }
        // The directory handle itself is one of the descriptors counted.
        return max(0, count - 1)
        #else
        return nil
        #endif
    }
}
