import Glibc

/// Runs one clone hook (see `CloneHooks`): posix_spawn with an argument vector of just its path,
/// output into a pipe whose tail is kept, a deadline enforced on its whole process group.
enum HookProcess {
    static func run(name: String, path: String, environment: [(String, String)], timeLimitMs: Int) -> CloneHooks.Result
    {
        let started = monotonicMs()
        var fds: [Int32] = [-1, -1]
        // pipe2 is not in Swift's Glibc module; the agent is single-threaded, so setting
        // FD_CLOEXEC right after cannot race another spawn.
        guard pipe(&fds) == 0 else {
            return CloneHooks.Result(name: name, outcome: .notStarted(errno), milliseconds: 0, output: "")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(readEnd) }

        let argv = [strdup(path)]
        let envp = environment.map { strdup($0.0 + "=" + $0.1) }
        defer { (argv + envp).forEach { free($0) } }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv + [nil]
        var cEnv: [UnsafeMutablePointer<CChar>?] = envp + [nil]

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        var pid: pid_t = 0
        var rc: Int32 = 0
        // ETXTBSY: the hook is open for writing somewhere (being installed, or an fd inherited by a
        // process between its fork and its exec), which lasts milliseconds; try a few times.
        for attempt in 0..<5 {
            if attempt > 0 { usleep(20_000) }
            rc = cArgs.withUnsafeMutableBufferPointer { args -> Int32 in
                cEnv.withUnsafeMutableBufferPointer { env -> Int32 in
                    guard let argBase = args.baseAddress, let envBase = env.baseAddress else { return EINVAL }
                    return posix_spawn(&pid, path, &actions, &attributes, argBase, envBase)
                }
            }
            if rc != ETXTBSY { break }
        }
        close(writeEnd)
        guard rc == 0 else {
            return CloneHooks.Result(name: name, outcome: .notStarted(rc), milliseconds: 0, output: "")
        }

        var output = OutputTail(limit: CloneHooks.outputLimit)
        var status: Int32 = 0
        var outcome: CloneHooks.Outcome?
        var pipeOpen = true
        while outcome == nil {
            let elapsed = monotonicMs() - started
            if elapsed >= timeLimitMs {
                // The group takes its children along; the hook itself too, should it have left
                // the group (setsid), so that the wait below cannot hang.
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
                wait(pid, &status)
                outcome = .timedOut(elapsed)
                break
            }
            // Read until the hook exits. Its output pipe may stay open after that (a daemon it
            // started keeps it), so EOF is not waited for: what is there when it exits is drained.
            if pipeOpen {
                pipeOpen = output.read(from: readEnd, waitingMs: Int32(min(100, timeLimitMs - elapsed)))
            } else {
                usleep(20_000)
            }
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid || (waited < 0 && errno != EINTR) {
                if pipeOpen { _ = output.read(from: readEnd, waitingMs: 0) }
                outcome = decode(status)
            }
        }
        return CloneHooks.Result(
            name: name, outcome: outcome ?? .exited(-1), milliseconds: monotonicMs() - started, output: output.text)
    }

    static func monotonicMs() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return now.tv_sec * 1000 + now.tv_nsec / 1_000_000
    }

    private static func wait(_ pid: pid_t, _ status: inout Int32) {
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// WIFEXITED / WEXITSTATUS / WTERMSIG are macros; the status word decoded by hand.
    private static func decode(_ status: Int32) -> CloneHooks.Outcome {
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }
}

/// The last `limit` bytes of a hook's output.
struct OutputTail {
    let limit: Int
    private(set) var bytes: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ chunk: some Collection<UInt8>) {
        bytes.append(contentsOf: chunk)
        if bytes.count > limit { bytes.removeFirst(bytes.count - limit) }
    }

    /// Waits up to `waitingMs` for data and reads what is there, without blocking past the wait;
    /// false once the pipe reached EOF or failed.
    mutating func read(from fd: Int32, waitingMs: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var chunk = [UInt8](repeating: 0, count: 4096)
        var wait = max(0, waitingMs)
        // Bounded, so a hook that writes without pause cannot keep the caller from its deadline.
        for _ in 0..<16 {
            let ready = poll(&entry, 1, wait)
            if ready < 0 { return errno == EINTR }
            if ready == 0 { return true }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return errno == EINTR || errno == EAGAIN }
            if n == 0 { return false }
            append(chunk[0..<n])
            wait = 0  // drain what is buffered, then go back to checking on the process
        }
        return true
    }
}
