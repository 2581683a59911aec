import FlockQEMU
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A child process (haproxy, flockd, wrk) started from an argument array with `posix_spawnp`,
/// never through a shell, its output going to files so that a chatty child never blocks on a
/// full pipe and its log survives for the post-mortem.
public final class DemoChild: Sendable {
    public let pid: pid_t
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String
    private let status = Mutex<Int32?>(nil)

    private init(pid: pid_t, name: String, stdoutPath: String, stderrPath: String) {
        self.pid = pid
        self.name = name
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// Starts `executable` (looked up in `PATH` when it has no `/`) with `arguments`.
    /// - Parameter environment: added to (and overriding) this process's environment.
    public static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        stdout: String, stderr: String, name: String? = nil
    ) throws -> DemoChild {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        // Nothing else of ours leaks into the child: without this a daemonized QEMU keeps,
        // e.g., flockd's listening socket open, so a restarted flockd cannot bind its port.
        closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Children start with default signal handling and an empty mask, whatever the parent
        // (a test runner, or flockctl ignoring SIGINT to clean up) has set.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        // Its own process group: a Ctrl-C on the terminal reaches flockctl only, which then
        // stops its children in order (flockd first, gracefully) instead of all at once.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw DemoError("cannot run \(executable): \(String(cString: strerror(result)))")
        }
        return DemoChild(
            pid: pid, name: name ?? URL(fileURLWithPath: executable).lastPathComponent, stdoutPath: stdout,
            stderrPath: stderr)
    }

    /// Reaps the child if it exited; true while it runs.
    public var isRunning: Bool {
        status.withLock { status in
            if status != nil { return false }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            if result == pid {
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                return false
            }
            if result < 0 {
                status = -1
                return false
            }
            return true
        }
    }

    /// The exit status once it exited (128 + signal when a signal ended it).
    public var exitStatus: Int32? {
        _ = isRunning
        return status.withLock { $0 }
    }

    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Polls for the exit up to `timeout`; the status, or nil if it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while isRunning && ContinuousClock.now < deadline { await nap(.milliseconds(20)) }
        return exitStatus
    }

    /// SIGTERM, then SIGKILL after `grace`; returns the exit status.
    @discardableResult
    public func stop(grace: Duration) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        signal(SIGKILL)
        return await waitForExit(timeout: .seconds(10))
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Sleeps even in a cancelled task (where `Task.sleep` returns at once), so that clean-up loops
/// that poll after a Ctrl-C still wait between polls instead of spinning.
func nap(_ duration: Duration) async {
    if Task.isCancelled {
        let micros = duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
        usleep(UInt32(clamping: micros))
    } else {
        try? await Task.sleep(for: duration)
    }
}

/// A demo failure with a message for the operator.
public struct DemoError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A 127.0.0.1 TCP port that was free a moment ago (the kernel picks it).
public func freeLoopbackPort() throws -> Int {
    let (fd, port) = try bindLoopback(type: SOCK_STREAM)
    close(fd)
    return port
}

/// A socket of `type` bound to 127.0.0.1 on a port the kernel picks, with that port.
func bindLoopback(type: __socket_type) throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw DemoError("socket(): \(String(cString: strerror(errno)))") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw DemoError("bind(127.0.0.1:0): \(reason)")
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: actual.sin_port)))
}

/// Finds an executable: an absolute or relative path as is, else the first match in `PATH`.
public func findExecutable(_ name: String) -> String? {
    if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    let directories: [String] = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
    for directory in directories {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
