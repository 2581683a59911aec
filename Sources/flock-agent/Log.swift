import FlockGuestKit
import Glibc

/// Brief console logging: init points stderr at the console, so these lines show up in the
/// VM's serial log that the host keeps.
enum Log {
    /// `flock.agent_debug=1` on the kernel command line logs every line in and out.
    static let debugEnabled: Bool = {
        guard let cmdline = Files.readTrimmed("/proc/cmdline") else { return false }
        return cmdline.split(separator: " ").contains("flock.agent_debug=1")
    }()

    static func debug(_ message: @autoclosure () -> String) {
        if debugEnabled { info(message()) }
    }

    static func info(_ message: String) {
        let line = "flock-agent: " + message + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}
