import Dispatch
import Foundation
import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// A host-side child process (qemu, qemu-img, ip, haproxy, flockd, wrk), started from an argument
/// array (never a shell) through swift-subprocess, which spawns it with default signal handling,
/// an empty signal mask and no descriptor of ours but 0, 1 and 2, and reaps it without polling.
///
/// Two shapes, because the callers need both:
/// - `run` waits for the child to finish, bounded by a timeout that kills it; output goes to a log
///   file or is captured in memory, read while the child runs so it can never block on a full pipe.
/// - `start` returns at once with a handle, for children that outlive the call that started them
///   (the demo's haproxy and flockd, a wrk load step, QEMU during an accelerator probe). Its
///   output goes to files, so a chatty child never blocks and its log survives for the post-mortem.
///   swift-subprocess only runs a child inside a `run { execution in … }` scope; the handle parks
///   that scope in a task of its own, which records the exit status and wakes whoever waits.
///
/// Neither is tied to the caller's cancellation: a clean-up in a task cancelled by Ctrl-C still
/// waits for its children, and a cancelled caller does not kill a QEMU mid-launch.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let name: String
    public let stdoutPath: String
    public let stderrPath: String
    private let state = Mutex(ExitState())

    private struct ExitState {
        var status: Int32?
        var signal: Int32?
        var waiters: [UInt64: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private init(pid: pid_t, name: String, stdoutPath: String, stderrPath: String) {
        self.pid = pid
        self.name = name
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    // MARK: - starting

    /// Starts `executable` (looked up in `PATH` when it has no `/`) with `arguments`, its standard
    /// input from /dev/null and its output appended to `stdout` (and `stderr`, or `stdout` too).
    /// - Parameters:
    ///   - environment: added to (and overriding) this process's environment.
    ///   - workingDirectory: where it runs; this process's own when nil.
    ///   - ownProcessGroup: a group of its own, so that a Ctrl-C on the terminal reaches this process
    ///     only, which then stops its children in order instead of all at once.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: String? = nil, stdout: String, stderr: String? = nil, ownProcessGroup: Bool = false,
        name: String? = nil
    ) async throws(ChildProcessError) -> ChildProcess {
        let path = try resolve(executable)
        let output = try openLog(stdout, for: executable)
        let error: FileDescriptor
        do {
            error = try openLog(stderr ?? stdout, for: executable)
        } catch {
            try? output.close()
            throw error
        }
        return try await launch(
            path, arguments, environment: environment, workingDirectory: workingDirectory, input: .none,
            output: output, error: error, ownProcessGroup: ownProcessGroup,
            name: name ?? URL(fileURLWithPath: executable).lastPathComponent, stdoutPath: stdout,
            stderrPath: stderr ?? stdout, executable: executable)
    }

    /// A child whose standard input and output are pipes to this process, for a child that speaks
    /// a line protocol (an `ssh` session to a Flock host); its standard error goes to a file.
    public struct Piped: Sendable {
        public let process: ChildProcess
        /// The write end of the child's standard input; the caller closes it (EOF for the child).
        public let input: Int32
        /// The read end of the child's standard output; the caller closes it.
        public let output: Int32
    }

    /// Starts `executable` with pipes for its standard input and output and its standard error
    /// appended to `stderr`. Both pipe ends returned are close-on-exec, so no other child inherits them.
    public static func startPiped(
        _ executable: String, _ arguments: [String], stderr: String, name: String? = nil
    ) async throws(ChildProcessError) -> Piped {
        let path = try resolve(executable)
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw .launch(executable, "pipe(): \(errnoText())") }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0])
            close(toChild[1])
            throw .launch(executable, "pipe(): \(errnoText())")
        }
        // Glibc's module does not export pipe2; swift-subprocess closes every other descriptor in
        // the child anyway, so close-on-exec only guards against other exec paths.
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let error: FileDescriptor
        do {
            error = try openLog(stderr, for: executable)
        } catch {
            for fd in toChild + fromChild { close(fd) }
            throw error
        }
        do {
            let child = try await launch(
                path, arguments, environment: [:], workingDirectory: nil,
                input: .fileDescriptor(FileDescriptor(rawValue: toChild[0]), closeAfterSpawningProcess: true),
                output: FileDescriptor(rawValue: fromChild[1]), error: error, ownProcessGroup: false,
                name: name ?? URL(fileURLWithPath: executable).lastPathComponent, stdoutPath: "/dev/null",
                stderrPath: stderr, executable: executable)
            return Piped(process: child, input: toChild[1], output: fromChild[0])
        } catch {
            close(toChild[1])
            close(fromChild[0])
            throw error
        }
    }

    /// Spawns the child in a task of its own that records its exit; see `start`.
    private static func launch<Input: InputProtocol>(
        _ path: String, _ arguments: [String], environment: [String: String], workingDirectory: String?,
        input: Input, output: FileDescriptor, error: FileDescriptor, ownProcessGroup: Bool, name: String,
        stdoutPath stdout: String, stderrPath: String, executable: String
    ) async throws(ChildProcessError) -> ChildProcess {
        let options = {
            var options = PlatformOptions()
            if ownProcessGroup { options.processGroupID = 0 }
            return options
        }()
        let launched = Launch()
        do {
            return try await withCheckedThrowingContinuation { continuation in
                launched.continuation.withLock { $0 = continuation }
                // Unstructured: the child outlives this call, and the caller's cancellation.
                Task {
                    do {
                        let result = try await Subprocess.run(
                            .path(FilePath(path)), arguments: Arguments(arguments),
                            environment: merged(environment), workingDirectory: workingDirectory.map { FilePath($0) },
                            platformOptions: options, input: input,
                            output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                            error: .fileDescriptor(error, closeAfterSpawningProcess: true)
                        ) { execution in
                            let child = ChildProcess(
                                pid: execution.processIdentifier.value, name: name, stdoutPath: stdout,
                                stderrPath: stderrPath)
                            launched.started(child)
                            return child
                        }
                        result.closureResult.finish(result.terminationStatus)
                    } catch {
                        // Before the body ran the spawn failed; after, only watching the child did.
                        launched.failed(executable, error)
                    }
                }
            }
        } catch let error as ChildProcessError {
            throw error
        } catch {
            throw .launch(executable, "\(error)")
        }
    }

    /// Runs `executable` to the end, its output and error appended to `log`; returns the exit
    /// status (128 + signal when a signal ended it). Killed, and an error, after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], log: String, timeout: Duration = .seconds(60)
    ) async throws(ChildProcessError) -> Int32 {
        let child = try await start(executable, arguments, stdout: log)
        if let status = await child.waitForExit(timeout: timeout) { return status }
        child.kill()
        await child.waitForExit(timeout: .seconds(10))
        throw .timeout(executable, after: timeout)
    }

    /// What a finished child printed, and how it ended.
    public struct Outcome: Sendable {
        /// The exit status, 128 + signal when a signal ended it.
        public var status: Int32
        /// The signal that ended it, nil when it exited by itself: tells a crash from `exit(139)`.
        public var terminatingSignal: Int32?
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` to the end with its output and error captured (at most `limit` bytes of
    /// each, read while it runs). Killed, and an error, after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        timeout: Duration = .seconds(60), limit: Int = 1 << 20
    ) async throws(ChildProcessError) -> Outcome {
        let path = try resolve(executable)
        let work = Task { () async throws -> Outcome? in
            try await withThrowingTaskGroup(of: Outcome?.self) { group in
                group.addTask {
                    let result = try await Subprocess.run(
                        .path(FilePath(path)), arguments: Arguments(arguments), environment: merged(environment),
                        output: .string(limit: limit), error: .string(limit: limit))
                    let status = result.terminationStatus
                    return Outcome(
                        status: code(status), terminatingSignal: signalNumber(status),
                        standardOutput: result.standardOutput, standardError: result.standardError)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                // The first to finish wins; cancelling the other kills the child if it still runs.
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
        }
        let outcome: Outcome?
        do {
            outcome = try await work.value
        } catch {
            throw .launch(executable, "\(error)")
        }
        guard let outcome else { throw .timeout(executable, after: timeout) }
        return outcome
    }

    // MARK: - watching and stopping

    /// True until the child has exited and been reaped.
    public var isRunning: Bool { state.withLock { $0.status == nil } }

    /// The exit status once it exited (128 + signal when a signal ended it).
    public var exitStatus: Int32? { state.withLock { $0.status } }

    /// The signal that ended the child, nil while it runs or when it exited by itself.
    public var terminatingSignal: Int32? { state.withLock { $0.signal } }

    /// Sends `signal` unless the child's exit was recorded. swift-subprocess reaps the child just
    /// before that, so a signal sent in that instant can miss; it never reaches a pid reused long after.
    public func signal(_ signal: Int32) {
        state.withLock { state in
            if state.status == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// SIGKILLs the child if it still runs; its exit is recorded as it is reaped.
    public func kill() { signal(SIGKILL) }

    /// Waits for the exit up to `timeout`; the status, or nil if it still runs. Waits the same in a
    /// cancelled task, so that clean-up after a Ctrl-C still gives children their time.
    @discardableResult
    public func waitForExit(timeout: Duration) async -> Int32? {
        await withCheckedContinuation { continuation in
            let id: UInt64? = state.withLock { state in
                guard state.status == nil else { return nil }
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let id else { return continuation.resume(returning: exitStatus) }
            // Clamped before multiplying: a timeout of years must not overflow into a trap.
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = Int(
                clamping: min(seconds, Int64(Int32.max)) * 1_000_000_000 + attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(max(nanoseconds, 0))) { [self] in
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
            }
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; returns the exit status.
    @discardableResult
    public func stop(grace: Duration) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitForExit(timeout: grace) { return status }
        kill()
        return await waitForExit(timeout: .seconds(10))
    }

    /// What the child wrote to its standard output file so far.
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the child wrote to its standard error file so far.
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    private func finish(_ termination: TerminationStatus) {
        finish(Self.code(termination), signal: Self.signalNumber(termination))
    }

    private func finish(_ status: Int32, signal: Int32?) {
        let waiters = state.withLock { state in
            state.status = status
            state.signal = signal
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: status) }
    }

    // MARK: - helpers

    private static func resolve(_ executable: String) throws(ChildProcessError) -> String {
        guard let path = findExecutable(executable) else { throw .notFound(executable) }
        return path
    }

    private static func openLog(_ path: String, for executable: String) throws(ChildProcessError) -> FileDescriptor {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .launch(executable, "cannot open its log \(path): \(errnoText())") }
        return FileDescriptor(rawValue: fd)
    }

    private static func merged(_ environment: [String: String]) -> Environment {
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in environment {
            if let key = Environment.Key(rawValue: key) { updates[key] = value }
        }
        return .inherit.updating(updates)
    }

    private static func code(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    private static func signalNumber(_ status: TerminationStatus) -> Int32? {
        if case .signaled(let signal) = status { signal } else { nil }
    }

    /// Hands the handle (or the spawn's failure) from the child's task to `start`, exactly once.
    private final class Launch: Sendable {
        let continuation = Mutex<CheckedContinuation<ChildProcess, any Error>?>(nil)
        let child = Mutex<ChildProcess?>(nil)

        func started(_ child: ChildProcess) {
            self.child.withLock { $0 = child }
            continuation.withLock { $0.take() }?.resume(returning: child)
        }

        func failed(_ executable: String, _ error: any Error) {
            let reason: ChildProcessError =
                (error as? SubprocessError)?.code == .executableNotFound
                ? .notFound(executable) : .launch(executable, "\(error)")
            continuation.withLock { $0.take() }?.resume(throwing: reason)
            // Watching a started child failed: its waiters must not wait for ever.
            child.withLock { $0 }?.finish(-1, signal: nil)
        }
    }
}
