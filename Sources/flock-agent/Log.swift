import FlockGuestKit
import Glibc

/// Brief console logging: init points stderr at the console, so these lines show up in the
/// VM's serial log that the host keeps.
enum Log {
    /// `flock.agent_debug=1` on the kernel command line logs every line in and out and each
    /// identity step, stamped with the guest's monotonic clock in milliseconds: where an
    /// activation's time goes inside the guest.
    static let debugEnabled: Bool = {
        guard let cmdline = Files.readTrimmed("/proc/cmdline") else { return false }
        return cmdline.split(separator: " ").contains("flock.agent_debug=1")
    }()

    static func debug(_ message: @autoclosure () -> String) {
        guard debugEnabled else { return }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let ms = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        info("[\(ms)] " + message())
    }

    static func info(_ message: String) {
        let line = "flock-agent: " + message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
