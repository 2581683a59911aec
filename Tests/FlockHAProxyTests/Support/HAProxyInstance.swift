import FlockHAProxy
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

/// A real HAProxy for one test: its own temporary config, admin socket and loopback ports.
///
/// HAProxy runs in the foreground (`-db`) as a child of the test process and is stopped by
/// `stop()` (tests call it in a `defer`). `restart()` stops and starts it on the same config, which
/// drops every dynamic server exactly as a reload does.
final class HAProxyInstance: @unchecked Sendable {
    struct Backend {
        var name: String
        var balance = "roundrobin"
        /// `hash-type` line, for hash algorithms.
        var hashType: String? = nil
        /// Static servers from the config: (name, port).
        var servers: [(name: String, port: Int)] = []
        /// Health checks ask `GET /healthz` when true; a plain TCP connect otherwise.
        var httpCheck = true
    }

    let scratch: Scratch
    let socketPath: String
    private(set) var adminTCPPort = 0
    private(set) var frontendPort = 0
    let configPath: String
    /// HAProxy's standard error, for the message when it exits at start.
    var logPath: String { scratch.path("haproxy.log") }
    private var process: Process?
    private let lock = NSLock()

    /// The runtime API on the unix socket.
    var client: RuntimeClient { RuntimeClient(endpoint: .unix(path: socketPath), timeout: .seconds(5)) }

    /// The haproxy binary: Debian installs it in /usr/sbin, which is not always on PATH.
    static let binary: String? = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Writes the config and starts HAProxy. The first backend is the frontend's default.
    convenience init(backends: [Backend]) async throws {
        try await self.init { socket, adminTCPPort, frontendPort in
            Self.config(socket: socket, adminTCPPort: adminTCPPort, frontendPort: frontendPort, backends: backends)
        }
    }

    /// Starts HAProxy on a config made by `config(socket, adminTCPPort, frontendPort)`.
    ///
    /// A free port can be taken by a test running alongside between the moment it is chosen and
    /// the moment HAProxy binds it; HAProxy then exits at start, and it is tried again on new ports.
    init(config: (String, Int, Int) throws -> String) async throws {
        scratch = try Scratch(prefix: "flock-haproxy")
        socketPath = scratch.path("admin.sock")
        configPath = scratch.path("haproxy.cfg")
        for attempt in 1...3 {
            adminTCPPort = try freeLoopbackPort()
            frontendPort = try freeLoopbackPort()
            try config(socketPath, adminTCPPort, frontendPort).write(
                toFile: configPath, atomically: true, encoding: .utf8)
            do {
                try await start()
                return
            } catch let failure as SocketFailure where failure.description.contains("exited at start") && attempt < 3 {
                continue
            }
        }
    }

    static func config(socket: String, adminTCPPort: Int, frontendPort: Int, backends: [Backend]) -> String {
        var lines = [
            "global",
            "    stats socket \(socket) mode 600 level admin",
            "    stats socket ipv4@127.0.0.1:\(adminTCPPort) level admin",
            "    maxconn 500",
            "defaults",
            "    mode http",
            "    timeout connect 2s",
            "    timeout client 70s",
            "    timeout server 70s",
            "    timeout queue 30s",
            "frontend web",
            "    bind 127.0.0.1:\(frontendPort)",
            "    default_backend \(backends.first?.name ?? "none")",
        ]
        for backend in backends {
            lines += ["backend \(backend.name)", "    balance \(backend.balance)"]
            if let hashType = backend.hashType { lines.append("    hash-type \(hashType)") }
            if backend.httpCheck { lines.append("    option httpchk GET /healthz") }
            for server in backend.servers {
                lines.append("    server \(server.name) 127.0.0.1:\(server.port) check inter 200ms")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func start() async throws {
        guard let binary = Self.binary else {
            throw SocketFailure("haproxy is not installed; run 'bash Deploy/setup.sh' (Deploy/test.sh does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-db", "-f", configPath]
        process.standardOutput = FileHandle.nullDevice
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: logPath) ?? FileHandle.nullDevice
        try process.run()
        lock.withLock { self.process = process }
        // Ready once the admin socket answers; bounded so that a broken config fails fast.
        for _ in 0..<100 {
            if !process.isRunning {
                let said = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw SocketFailure("haproxy exited at start; config \(configPath): \(said.suffix(600))")
            }
            if (try? await client.execute(["show", "info"]))?.contains("Name: HAProxy") == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SocketFailure("haproxy did not open its admin socket within 5 s")
    }

    func stop() {
        let process = lock.withLock { () -> Process? in
            defer { self.process = nil }
            return self.process
        }
        guard let process else { return }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: socketPath)
    }

    /// Stops and starts HAProxy on the same config: dynamic servers are gone afterwards.
    func restart() async throws {
        stop()
        try await start()
    }

    deinit { stop() }
}
