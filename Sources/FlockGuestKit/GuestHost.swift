import Glibc

/// What both guest programs report about the machine they run in.
public enum GuestHost {
    /// The kernel's hostname, which the agent sets to the clone id; "" if it cannot be read.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// This boot's id: a snapshot-restored clone keeps its parent's, a cold boot gets a new one.
    public static func bootID() -> String { Files.readTrimmed("/proc/sys/kernel/random/boot_id") ?? "" }

    /// The text of the current `errno`, for located error messages.
    public static func errnoText() -> String { String(cString: strerror(errno)) }
}
