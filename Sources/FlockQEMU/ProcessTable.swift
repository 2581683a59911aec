import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Looks at processes Flock did not spawn itself: daemonized QEMUs from this or an earlier run.
enum ProcessTable {
    /// True if `pid` exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, Glibc.kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// The process's arguments, to confirm a pid from a pid file still belongs to our VM
    /// (pids are reused) before signalling it.
    static func arguments(_ pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// True when `pid` is alive and its command line mentions `marker` (the VM's QMP socket path).
    static func isOurs(_ pid: pid_t, marker: String) -> Bool {
        isAlive(pid) && arguments(pid).contains { $0.contains(marker) }
    }

    /// Waits until `pid` is gone, up to `timeout`; true if it went.
    static func waitGone(_ pid: pid_t, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isAlive(pid) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
