import FlockCore
import FlockSystem
import Foundation
import Testing

@testable import FlockHAProxy

#if canImport(Glibc)
    import Glibc
#endif

/// The runtime API client against a real HAProxy: both transports, typed answers, typed errors.
@Suite(.timeLimit(.minutes(2)))
struct RuntimeClientTests {
    @Test func showStatOverUnixAndTCPAgree() async throws {
        let app = try TestHTTPServer(name: "a")
        defer { app.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app", servers: [("web1", app.port)])])
        defer { haproxy.stop() }

        let overUnix = try await haproxy.client.showStat(backend: "app")
        let tcp = RuntimeClient(endpoint: try RuntimeEndpoint(parsing: "127.0.0.1:\(haproxy.adminTCPPort)"))
        let overTCP = try await tcp.showStat(backend: "app")
        #expect(overUnix.backend("app")?["algo"] == "roundrobin")
        #expect(overUnix.servers(of: "app").map(\.server) == ["web1"])
        #expect(overTCP.servers(of: "app").map(\.server) == ["web1"])
        #expect(overUnix.columns == overTCP.columns)

        let state = try await tcp.showServersState(backend: "app")
        let web1 = try #require(state.server("web1", of: "app"))
        #expect(web1.address == "127.0.0.1")
        #expect(web1.port == app.port)
    }

    @Test func haproxyErrorLinesBecomeTypedErrorsNamingTheTarget() async throws {
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app", httpCheck: false)])
        defer { haproxy.stop() }
        let client = haproxy.client

        await #expect(throws: FlockError.self) { try await client.showStat(backend: "nope") }
        do {
            _ = try await client.showServersState(backend: "nope")
            Issue.record("expected an error")
        } catch let error as FlockError {
            #expect(error.isNotFound)
            #expect(error.message.contains("'nope'"))
        }
        do {
            try await client.enableServer(backend: "app", server: "ghost")
            Issue.record("expected an error")
        } catch let error as FlockError {
            #expect(error.isNotFound)
            #expect(error.message.contains("app/ghost"))
        }
        // A refusal that is not "not found": HAProxy will not delete a server outside maintenance.
        try await client.addServer(backend: "app", server: "flock-t-1", address: "127.0.0.1", port: 9, check: false)
        try await client.enableServer(backend: "app", server: "flock-t-1")
        do {
            try await client.deleteServer(backend: "app", server: "flock-t-1")
            Issue.record("expected a refusal")
        } catch let error as HAProxyError {
            #expect(error.isRejected)
            #expect(error.message.contains("del server app/flock-t-1"))
            #expect(error.message.contains("maintenance"))
        }
    }

    @Test func wordsThatCouldInjectACommandAreRefusedBeforeSending() async throws {
        // Nothing listens at this path: a refusal must come from the client's own checks.
        let client = RuntimeClient(endpoint: .unix(path: "/nonexistent/flock.sock"))
        for bad in ["app;shutdown sessions", "app\nshow info", "a b", "", "app/x", "ä"] {
            await #expect(throws: HAProxyError.self, "\(bad.debugDescription)") {
                try await client.enableHealth(backend: bad, server: "flock-x")
            }
        }
        do {
            _ = try await client.execute(["show", "info;", "shutdown"])
            Issue.record("expected a refusal")
        } catch let error as HAProxyError {
            #expect(error.isInvalidArgument)
        }
        await #expect(throws: HAProxyError.self) {
            try await client.addServer(backend: "app", server: "flock-x", address: "1.2.3.4 check", port: 80)
        }
        await #expect(throws: HAProxyError.self) {
            try await client.addServer(backend: "app", server: "flock-x", address: "1.2.3.4", port: 0)
        }
    }

    @Test func unreachableSocketIsAConnectError() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flock-nosock-\(UUID().uuidString.prefix(8))")
        let client = RuntimeClient(endpoint: .unix(path: dir.appendingPathComponent("admin.sock").path))
        do {
            _ = try await client.showStat()
            Issue.record("expected an error")
        } catch let error as HAProxyError {
            #expect(error.isConnect)
            #expect(error.message.contains("level admin"))
        }
        let port = try freeLoopbackPort()
        let tcp = RuntimeClient(endpoint: .tcp(host: "127.0.0.1", port: port))
        await #expect(throws: HAProxyError.self) { try await tcp.showStat() }
    }

    @Test func aSilentPeerTimesOutWithinTheCommandTimeout() async throws {
        // A listener that accepts (through its backlog) but never answers.
        let (fd, port) = try Sockets.listenLoopback()
        defer { close(fd) }
        let client = RuntimeClient(endpoint: .tcp(host: "127.0.0.1", port: port), timeout: .milliseconds(300))
        let started = ContinuousClock.now
        do {
            _ = try await client.showStat()
            Issue.record("expected a timeout")
        } catch let error as HAProxyError {
            #expect(error.isTimeout)
            #expect(error.message.contains("show stat"))
        }
        #expect(ContinuousClock.now - started < .seconds(30), "bounded by the command timeout, not hung")
    }

    @Test func concurrentCallersEachGetTheirOwnAnswer() async throws {
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app"), .init(name: "api")])
        defer { haproxy.stop() }
        let client = haproxy.client
        let results = try await withThrowingTaskGroup(of: (String, String?).self) { group in
            for index in 0..<40 {
                let backend = index.isMultiple(of: 2) ? "app" : "api"
                group.addTask {
                    let table = try await client.showStat(backend: backend)
                    return (backend, table.rows.first?.proxy)
                }
            }
            var results: [(String, String?)] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(results.count == 40)
        #expect(results.allSatisfy { $0.0 == $0.1 })
    }

    @Test func endpointsParseOrFailClearly() throws {
        #expect(try RuntimeEndpoint(parsing: "/run/haproxy/admin.sock") == .unix(path: "/run/haproxy/admin.sock"))
        #expect(try RuntimeEndpoint(parsing: "unix:relative.sock") == .unix(path: "relative.sock"))
        #expect(try RuntimeEndpoint(parsing: "127.0.0.1:9999") == .tcp(host: "127.0.0.1", port: 9999))
        #expect(try RuntimeEndpoint(parsing: "tcp:[::1]:9999") == .tcp(host: "::1", port: 9999))
        for bad in [
            "", "host", "host:0", "host:70000", "::1:80", "tcp:", "unix:", "/" + String(repeating: "x", count: 200),
        ] {
            #expect(throws: HAProxyError.self, "\(bad)") { try RuntimeEndpoint(parsing: bad) }
        }
    }
}
