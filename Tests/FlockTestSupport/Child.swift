import FlockSystem
import Foundation

/// A child process of a test (flockd, flockctl, haproxy), through FlockSystem's `ChildProcess`:
/// its output goes to `<name>.out` and `<name>.err` in the test's scratch directory, so a
/// long-running daemon never blocks on a pipe, and it is killed when the test lets go of it.
public final class Child: Sendable {
    public let process: ChildProcess

    private init(_ process: ChildProcess) { self.process = process }

    /// Starts `executable` with `arguments`; `environment` is added to the test's own.
    public static func start(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], in scratch: Scratch,
        name: String
    ) async throws -> Child {
        Child(
            try await ChildProcess.start(
                executable.path, arguments, environment: environment, stdout: scratch.path("\(name).out"),
                stderr: scratch.path("\(name).err"), name: name))
    }

    public var stdoutPath: String { process.stdoutPath }
    public var stderrPath: String { process.stderrPath }
    public var stdout: String { process.stdout }
    public var stderr: String { process.stderr }

    /// Waits for the exit, bounded; nil if it did not exit in time (then it is killed).
    public func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        if let status = await process.waitForExit(timeout: timeout) { return status }
        process.kill()
        await process.waitForExit(timeout: .seconds(10))
        return nil
    }

    public func signal(_ signal: Int32) { process.signal(signal) }

    deinit { process.kill() }
}

/// Runs a command to completion and returns its status (nil if it hung and was killed) and output.
public func runToEnd(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:], in scratch: Scratch
) async throws -> (status: Int32?, stdout: String, stderr: String) {
    let child = try await Child.start(
        executable, arguments, environment: environment, in: scratch, name: "run-\(UUID().uuidString.prefix(6))")
    let status = await child.waitForExit()
    return (status, child.stdout, child.stderr)
}
