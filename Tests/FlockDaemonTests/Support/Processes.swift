import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The executables `swift test` built, next to the test bundle (as Tests/FlockctlTests finds flockctl).
enum Binary {
    static func url(_ name: String) -> URL? {
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidates = [runner.deletingLastPathComponent().appendingPathComponent(name)]
        var dir = runner.deletingLastPathComponent()
        for _ in 0..<4 {
            dir = dir.deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent(name))
        }
        candidates.append(Repo.root.appendingPathComponent(".build/debug/\(name)"))
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}

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

/// A loopback TCP port that was free a moment ago.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProcessFailure("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw ProcessFailure("bind failed") }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: actual.sin_port))
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
                bind 127.0.0.1:\(try freePort())
                default_backend app
            backend app
                balance roundrobin
                option httpchk GET /healthz
                server web-parent 127.0.0.1:\(try freePort()) check inter 1s
            backend fixed
                balance static-rr
                server other 127.0.0.1:\(try freePort())

            """
        let path = try scratch.write("haproxy.cfg", config)
        child = try Child(URL(fileURLWithPath: binary), ["-db", "-f", path], in: scratch, name: "haproxy")
        let ready = await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: self.socketPath) }
        guard ready else { throw ProcessFailure("haproxy did not open its socket: \(child.stderr)") }
    }
}
