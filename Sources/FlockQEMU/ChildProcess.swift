import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with an argument array through `posix_spawn` (never a shell), its
/// output going to a log file so it can never block on a full pipe.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let status = Mutex<Int32?>(nil)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` (looked up in `PATH` when it has no `/`) with `arguments`.
    /// - Parameter errorLog: where standard error goes when it should not share `log`.
    static func spawn(
        _ executable: String, _ arguments: [String], log: String, errorLog: String? = nil
    ) throws(QEMUError) -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        if let errorLog {
            posix_spawn_file_actions_addopen(&actions, 2, errorLog, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Nothing else of ours leaks into the child: without this a daemonized QEMU keeps,
        // e.g., flockd's listening socket open, so a restarted flockd cannot bind its port.
        closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Reset signal handling so the child does not inherit a test runner's masks.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw .launch(executable, "cannot run \(executable): \(errnoText(result))") }
        return ChildProcess(pid: pid)
    }

    /// Runs to completion and returns the exit status (128+signal when killed); bounded by `timeout`.
    static func run(
        _ executable: String, _ arguments: [String], log: String, timeout: Duration = .seconds(60)
    ) async throws(QEMUError) -> Int32 {
        let child = try spawn(executable, arguments, log: log)
        let deadline = ContinuousClock.now + timeout
        while child.isRunning {
            guard ContinuousClock.now < deadline else {
                child.kill()
                throw .timeout("\(executable)", after: timeout)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return child.exitStatus ?? -1
    }

    /// Reaps the child if it exited; true while it runs.
    var isRunning: Bool {
        status.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                return false
            }
            if result < 0 { status = -1; return false }
            return true
        }
    }

    var exitStatus: Int32? {
        _ = isRunning
        return status.withLock { $0 }
    }

    /// SIGKILLs and reaps the child if it still runs.
    func kill() {
        guard isRunning else { return }
        Glibc.kill(pid, SIGKILL)
        status.withLock { status in
            var raw: Int32 = 0
            if waitpid(pid, &raw, 0) == pid { status = 128 + (raw & 0x7f) }
        }
    }
}

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

/// Adds "close every descriptor from 3 up" to a spawn's actions (glibc ≥ 2.34's
/// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time because Swift's Glibc
/// module does not export it). Descriptors opened without `O_CLOEXEC` elsewhere in the process
/// would otherwise outlive it in the child. Public so that every process Flock spawns (the demo's
/// haproxy and flockd too) closes them the same way.
public func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
    _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
}
