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

/// A real HAProxy with its own config and admin socket in a scratch directory, in the
/// foreground (`-db`) as a child of the test; stopped when released.
final class TestHAProxy: @unchecked Sendable {
    let socketPath: String
    /// HAProxy's Prometheus exporter (`use-service prometheus-exporter`), on loopback.
    let exporterPort: Int
    let child: Child

    static let binary = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "/usr/local/sbin/haproxy"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Backends `app` and `spare` (roundrobin, each with a parent as a static server) and `fixed`
    /// (static-rr), and the exporter's frontend at `/metrics`.
    init(in scratch: Scratch) async throws {
        guard let binary = Self.binary else {
            throw ProcessFailure("haproxy is not installed; run 'bash Deploy/setup.sh' (Deploy/test.sh does)")
        }
        socketPath = scratch.path("admin.sock")
        exporterPort = try freeLoopbackPort()
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
            frontend prometheus
                bind 127.0.0.1:\(exporterPort)
                http-request use-service prometheus-exporter if { path /metrics }
            backend app
                balance roundrobin
                option httpchk GET /healthz
                server web-parent 127.0.0.1:\(try freeLoopbackPort()) check inter 1s
            backend spare
                balance roundrobin
                server spare-parent 127.0.0.1:\(try freeLoopbackPort())
            backend fixed
                balance static-rr
                server other 127.0.0.1:\(try freeLoopbackPort())

            """
        let path = try scratch.write("haproxy.cfg", config)
        child = try await Child.start(URL(fileURLWithPath: binary), ["-db", "-f", path], in: scratch, name: "haproxy")
        let ready = await eventually(timeout: .seconds(10)) { FileManager.default.fileExists(atPath: self.socketPath) }
        guard ready else { throw ProcessFailure("haproxy did not open its socket: \(child.stderr)") }
    }
}
