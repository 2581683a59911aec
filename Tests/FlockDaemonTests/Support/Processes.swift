import FlockSystem
import FlockTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

struct ProcessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A child process whose output goes to files, so a long-running daemon never blocks on a pipe.
final class Child: @unchecked Sendable {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:], in scratch: Scratch, name: String
    ) throws {
        stdoutPath = scratch.path("\(name).out")
        stderrPath = scratch.path("\(name).err")
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit, bounded; nil if it did not exit in time (then it is killed).
    func waitForExit(timeout: Duration = .seconds(60)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Runs a command to completion and returns its status and output.
func runToEnd(
    _ executable: URL, _ arguments: [String], environment: [String: String] = [:], in scratch: Scratch
) async throws
    -> (status: Int32?, stdout: String, stderr: String)
{
    let child = try Child(
        executable, arguments, environment: environment, in: scratch, name: "run-\(UUID().uuidString.prefix(6))")
    let status = await child.waitForExit()
    return (status, child.stdout, child.stderr)
}

/// A real HAProxy with its own config and admin socket in a scratch directory, in the
/// foreground (`-db`) as a child of the test; stopped when released.
final class TestHAProxy: @unchecked Sendable {
    let socketPath: String
    let child: Child

    static let binary = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Backends `app` (roundrobin, with the parent as a static server) and `fixed` (static-rr).
    init(in scratch: Scratch) async throws {
        guard let binary = Self.binary else {
            throw ProcessFailure("haproxy is not installed; run 'bash Deploy/setup.sh' (Deploy/test.sh does)")
        }
        socketPath = scratch.path("admin.sock")
        let config = """
            global
                stats socket \(socketPath) mode 600 level admin
            defaults
                mode http
                timeout connect 2s
                timeout client 10s
                timeout server 10s
            frontend web
                bind 127.0.0.1:\(try freeLoopbackPort())
                default_backend app
            backend app
                balance roundrobin
                option httpchk GET /healthz
                server web-parent 127.0.0.1:\(try freeLoopbackPort()) check inter 1s
            backend fixed
                balance static-rr
                server other 127.0.0.1:\(try freeLoopbackPort())

            """
        let path = try scratch.write("haproxy.cfg", config)
        child = try Child(URL(fileURLWithPath: binary), ["-db", "-f", path], in: scratch, name: "haproxy")
        let ready = await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: self.socketPath) }
        guard ready else { throw ProcessFailure("haproxy did not open its socket: \(child.stderr)") }
    }
}
