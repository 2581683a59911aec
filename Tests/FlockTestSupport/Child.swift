import FlockSystem
import Foundation

/// A child process of a test (flockd, flockctl, flock-bench, haproxy), through FlockSystem's
/// `ChildProcess`: its output goes to `<name>.out` and `<name>.err` in the test's scratch
/// directory, so a long-running daemon never blocks on a pipe, and it is killed when the test lets
/// go of it.
public final class Child: Sendable {
    public let process: ChildProcess

    private init(_ process: ChildProcess) { self.process = process }

    /// Starts `executable` with `arguments` in `workingDirectory` (the test's own when nil);
    /// `environment` is added to the test's own.
    public static func start(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil, in scratch: Scratch, name: String
    ) async throws -> Child {
        Child(
            try await ChildProcess.start(
                executable.path, arguments, environment: environment, workingDirectory: workingDirectory?.path,
                stdout: scratch.path("\(name).out"), stderr: scratch.path("\(name).err"), name: name))
    }

    public var stdoutPath: String { process.stdoutPath }
    public var stderrPath: String { process.stderrPath }
    public var stdout: String { process.stdout }
    public var stderr: String { process.stderr }
    /// The signal that ended it, nil while it runs or when it exited by itself.
    public var terminatingSignal: Int32? { process.terminatingSignal }

    /// Waits for the exit, bounded; nil if it did not exit in time (then it is killed).
    public func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        if let status = await process.waitForExit(timeout: timeout) { return status }
        process.kill()
        await process.waitForExit(timeout: .seconds(10))
        return nil
    }

    public func signal(_ signal: Int32) { process.signal(signal) }

    deinit { process.kill() }

    /// What a command run to its end printed, and how it ended.
    public struct Result: Sendable, CustomStringConvertible {
        /// The exit status (128 + signal when a signal ended it); nil if it hung and was killed.
        public var status: Int32?
        /// The signal that ended it on its own, nil when it exited (or hung): a crash is not an exit code.
        public var signal: Int32?
        public var stdout: String
        public var stderr: String

        public var description: String {
            let end = status.map { "exit \($0)" } ?? "killed after its timeout"
            return "\(end)\(signal.map { " (signal \($0))" } ?? "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
        }
    }

    /// Runs a command to its end, killing it after `timeout`; its output goes to a uniquely named
    /// pair of files in `scratch`, so runs in one scratch directory never mix.
    public static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
        workingDirectory: URL? = nil, in scratch: Scratch, timeout: Duration = .seconds(60)
    ) async throws -> Result {
        let child = try await start(
            executable, arguments, environment: environment, workingDirectory: workingDirectory, in: scratch,
            name: "run-\(UUID().uuidString.prefix(8))")
        let status = await child.waitForExit(timeout: timeout)
        let signal = status == nil ? nil : child.terminatingSignal
        return Result(status: status, signal: signal, stdout: child.stdout, stderr: child.stderr)
    }
}
