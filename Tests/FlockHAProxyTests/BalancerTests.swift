import FlockCore
import FlockTestSupport
import Foundation
import Synchronization
import Testing

@testable import FlockHAProxy

/// The `Balancer` driver against a real HAProxy 2.6 with real HTTP backends.
@Suite(.timeLimit(.minutes(3)))
struct BalancerTests {
    /// Fast checks so that registrations take a fraction of a second.
    static let fast = ServerOptions(interval: .milliseconds(100), rise: 2, fall: 2)

    static func balancer(_ haproxy: HAProxyInstance, healthTimeout: Duration = .seconds(10)) -> HAProxyBalancer {
        HAProxyBalancer(
            client: haproxy.client, options: fast, healthTimeout: healthTimeout, pollInterval: .milliseconds(50)
        )
    }

    /// Issue list 2: register → the server takes traffic, and only after its check passed.
    @Test func registeredServerReceivesTraffic() async throws {
        let clone = try TestHTTPServer(name: "clone1")
        defer { clone.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy)
        _ = try await balancer.check(backend: "app")

        let registration = ServerRegistration(
            backend: "app", name: "flock-web-1", address: "127.0.0.1", port: clone.port)
        try await balancer.register(registration)

        let servers = try await balancer.servers(backend: "app")
        #expect(servers == [BalancerServer(name: "flock-web-1", address: "127.0.0.1", port: clone.port, status: .up)])
        for _ in 0..<5 {
            let response = try await TestHTTPClient.get(port: haproxy.frontendPort, path: "/")
            #expect(response.status == 200)
            #expect(response.body == "ok clone1")
        }
        #expect(clone.served == 5)

        // Same name, same address: a no-op. Another address: a conflict that changes nothing.
        try await balancer.register(registration)
        var moved = registration
        moved.port = clone.port == 65535 ? 1 : clone.port + 1
        do {
            try await balancer.register(moved)
            Issue.record("expected a conflict")
        } catch let error as FlockError {
            #expect(error.isConflict)
        }
        #expect(try await balancer.servers(backend: "app").map(\.port) == [clone.port])
    }

    /// Issue list 3: a server whose check never passes is never enabled and is deleted.
    @Test func failingHealthCheckIsNeverEnabledAndIsCleanedUp() async throws {
        let sick = try TestHTTPServer(name: "sick")
        defer { sick.stop() }
        sick.healthy = false
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy, healthTimeout: .milliseconds(1500))

        // Watch the server's admin state throughout: it must never leave maintenance.
        let client = haproxy.client
        let watcher = Task {
            var sawEnabled = false
            while !Task.isCancelled {
                if let state = try? await client.showServersState(backend: "app").server("flock-web-9", of: "app"),
                    !state.admin.contains(.forcedMaintenance)
                {
                    sawEnabled = true
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return sawEnabled
        }
        let started = ContinuousClock.now
        do {
            try await balancer.register(
                ServerRegistration(backend: "app", name: "flock-web-9", address: "127.0.0.1", port: sick.port)
            )
            Issue.record("expected a health-check failure")
        } catch let error as HAProxyError {
            #expect(error.isHealthCheckFailed)
            #expect(error.message.contains("app/flock-web-9"))
            #expect(error.message.contains("never enabled"))
        }
        watcher.cancel()
        #expect(await watcher.value == false)
        #expect(try await balancer.servers(backend: "app").isEmpty)
        #expect(sick.served == 0)
    }

    /// Registers `clone` as `app/flock-web-1` and sends it one slow request through HAProxy, which
    /// HAProxy already counts as a session when this returns: a drain has something to wait for.
    static func sessionInFlight(
        to clone: TestHTTPServer, through haproxy: HAProxyInstance, milliseconds: Int
    ) async throws -> (HAProxyBalancer, Task<TestHTTPClient.Response, any Error>) {
        let balancer = Self.balancer(haproxy)
        try await balancer.register(
            ServerRegistration(backend: "app", name: "flock-web-1", address: "127.0.0.1", port: clone.port)
        )
        let port = haproxy.frontendPort
        let inFlight = Task { try await TestHTTPClient.get(port: port, path: "/slow?ms=\(milliseconds)") }
        let client = haproxy.client
        #expect(
            try await eventually(timeout: .seconds(5)) {
                (try await client.showStat(backend: "app").server("flock-web-1", of: "app")?.integer("scur") ?? 0) > 0
            }
        )
        return (balancer, inFlight)
    }

    /// Issue list 4: a slow request in flight completes with 200; then the server is removed.
    @Test func drainLetsTheInFlightRequestFinishThenRemoves() async throws {
        let clone = try TestHTTPServer(name: "clone1")
        defer { clone.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let (balancer, inFlight) = try await Self.sessionInFlight(to: clone, through: haproxy, milliseconds: 4000)
        let servedBefore = clone.served
        let outcome = try await balancer.drain(backend: "app", server: "flock-web-1", timeout: .seconds(30))
        #expect(outcome == .drained)
        #expect(clone.served == servedBefore + 1, "the drain returned only after the in-flight request was answered")
        let response = try await inFlight.value
        #expect(response.status == 200)
        #expect(response.body == "slow clone1")

        try await balancer.remove(backend: "app", server: "flock-web-1")
        #expect(try await balancer.servers(backend: "app").isEmpty)
        // Removing again is a no-op.
        try await balancer.remove(backend: "app", server: "flock-web-1")
    }

    /// Issue list 5: a drain that outlasts its timeout says so, with the sessions left.
    @Test func drainTimeoutReportsOpenSessions() async throws {
        let clone = try TestHTTPServer(name: "clone1")
        defer { clone.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let (balancer, inFlight) = try await Self.sessionInFlight(to: clone, through: haproxy, milliseconds: 6000)
        let started = ContinuousClock.now
        let outcome = try await balancer.drain(backend: "app", server: "flock-web-1", timeout: .milliseconds(400))
        #expect(outcome == .timedOut(sessions: 1))
        #expect(ContinuousClock.now - started >= .milliseconds(400), "the drain waited out its timeout")
        // The server is draining, not gone: the request still completes.
        #expect(try await balancer.servers(backend: "app").first?.status == .draining)
        #expect(try await inFlight.value.status == 200)
    }

    /// A session that outlives the drain timeout does not keep the server for ever: removal shuts
    /// it down (`shutdown sessions server`) and deletes the server.
    @Test func removeShutsDownSessionsADrainLeftOpen() async throws {
        let clone = try TestHTTPServer(name: "clone1")
        defer { clone.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let (balancer, inFlight) = try await Self.sessionInFlight(to: clone, through: haproxy, milliseconds: 30_000)
        #expect(
            try await balancer.drain(backend: "app", server: "flock-web-1", timeout: .milliseconds(200)) != .drained)
        let started = ContinuousClock.now
        try await balancer.remove(backend: "app", server: "flock-web-1")
        #expect(try await balancer.servers(backend: "app").isEmpty)
        #expect(ContinuousClock.now - started < .seconds(10), "removal did not wait for the 30 s request")
        let response = try? await inFlight.value
        #expect(response?.status != 200, "the session was cut, not served to the end")
    }

    /// Requests whose connection to a dead server failed wait a turn-around before they retry,
    /// with no session on it: HAProxy 2.6 deletes the server under them, and the retry then uses
    /// freed memory (a crash of the whole balancer, sooner or later). So removal returns only
    /// once those requests have spent their retries and been answered.
    @Test func removeWaitsForRequestsRetryingADeadServer() async throws {
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy)
        let client = haproxy.client
        let port = haproxy.frontendPort
        for round in 1...3 {
            // Port 1 refuses connections, as a dead clone's port would. No health check: the
            // server must stay UP for the requests to keep trying it.
            let name = "flock-web-\(round)"
            try await client.addServer(backend: "app", server: name, address: "127.0.0.1", port: 1, check: false)
            try await client.setState(.ready, backend: "app", server: name)
            let answered = Counter()
            let requests = (0..<6).map { _ in
                Task {
                    let status = try? await TestHTTPClient.get(port: port, path: "/").status
                    answered.value.add(1, ordering: .relaxed)
                    return status
                }
            }
            #expect(
                try await eventually(timeout: .seconds(5)) {
                    try await client.streams(backend: "app", server: name) > 0
                },
                "no request was retrying the dead server")
            try await balancer.remove(backend: "app", server: name)
            // Answered when their last retry failed: at once, not the turn-arounds later that
            // a delete under them would have left them to run.
            #expect(
                await eventually(timeout: .milliseconds(500)) { answered.value.load(ordering: .relaxed) == 6 },
                "removed while \(6 - answered.value.load(ordering: .relaxed)) request(s) still retried it")
            for request in requests { #expect(await request.value != 200) }
            #expect(try await balancer.servers(backend: "app").isEmpty)
        }
    }

    /// Issue list 6: a restart drops dynamic servers; reconcile adds them back and they serve.
    @Test func reconcileReaddsServersLostInARestart() async throws {
        let one = try TestHTTPServer(name: "one")
        let two = try TestHTTPServer(name: "two")
        let parent = try TestHTTPServer(name: "parent")
        defer { [one, two, parent].forEach { $0.stop() } }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app", servers: [("web-parent", parent.port)])])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy)
        let expected = [
            ServerRegistration(backend: "app", name: "flock-web-1", address: "127.0.0.1", port: one.port),
            ServerRegistration(backend: "app", name: "flock-web-2", address: "127.0.0.1", port: two.port),
        ]
        for registration in expected { try await balancer.register(registration) }

        try await haproxy.restart()
        #expect(try await balancer.servers(backend: "app").map(\.name) == ["web-parent"])

        let report = try await balancer.reconcile(backend: "app", expected: expected)
        #expect(report.readded == ["flock-web-1", "flock-web-2"])
        #expect(report.foreign == ["web-parent"])
        #expect(report.failed.isEmpty)
        let up = try await balancer.servers(backend: "app").filter { $0.status == .up }.map(\.name).sorted()
        #expect(up == ["flock-web-1", "flock-web-2", "web-parent"])

        // A second pass finds everything present and does nothing.
        let again = try await balancer.reconcile(backend: "app", expected: expected)
        #expect(again.readded.isEmpty)
        #expect(again.present == ["flock-web-1", "flock-web-2"])

        // Traffic reaches the re-added servers.
        var bodies = Set<String>()
        for _ in 0..<9 { bodies.insert(try await TestHTTPClient.get(port: haproxy.frontendPort, path: "/").body) }
        #expect(bodies == ["ok one", "ok two", "ok parent"])
    }

    /// Issue list 7: a backend that cannot take dynamic servers fails the start-up check clearly.
    @Test func staticBackendsFailTheStartUpCheckWithAFix() async throws {
        let haproxy = try await HAProxyInstance(backends: [
            .init(name: "app"),
            .init(name: "fixed", balance: "static-rr"),
            .init(name: "mapped", balance: "source", hashType: "map-based"),
            .init(name: "hashed", balance: "source", hashType: "consistent"),
        ])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy)

        #expect(try await balancer.check(backend: "app").details["algorithm"] == "roundrobin")
        #expect(try await balancer.check(backend: "hashed").details["algorithm"] == "source")
        for backend in ["fixed", "mapped"] {
            do {
                _ = try await balancer.check(backend: backend)
                Issue.record("expected \(backend) to fail")
            } catch let error as HAProxyError {
                #expect(error.isBackendUnsupported)
                #expect(error.message.contains("backend '\(backend)'"))
                #expect(error.message.contains("balance roundrobin"))
                #expect(error.message.contains("hash-type consistent"))
            }
        }
        do {
            _ = try await balancer.check(backend: "missing")
            Issue.record("expected a missing backend")
        } catch let error as FlockError {
            #expect(error.isNotFound)
            #expect(error.message.contains("backend missing"))
        }
        // The probes left nothing behind.
        for backend in ["app", "fixed", "mapped", "hashed"] {
            #expect(try await balancer.servers(backend: backend).isEmpty)
        }
    }

    /// Issue list 8: servers Flock does not own are refused and never changed.
    @Test func foreignServersAreLeftAlone() async throws {
        let parent = try TestHTTPServer(name: "parent")
        defer { parent.stop() }
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app", servers: [("web-parent", parent.port)])])
        defer { haproxy.stop() }
        let balancer = Self.balancer(haproxy)
        let client = haproxy.client
        #expect(
            try await eventually { try await balancer.servers(backend: "app").first?.status == .up }
        )
        // An operator's dynamic server without Flock's prefix.
        try await client.addServer(
            backend: "app", server: "manual-1", address: "127.0.0.1", port: parent.port, check: false)
        try await client.enableServer(backend: "app", server: "manual-1")

        for name in ["web-parent", "manual-1"] {
            await #expect(throws: HAProxyError.self) {
                _ = try await balancer.drain(backend: "app", server: name, timeout: .seconds(1))
            }
            await #expect(throws: HAProxyError.self) { try await balancer.remove(backend: "app", server: name) }
            await #expect(throws: HAProxyError.self) {
                try await balancer.register(
                    ServerRegistration(backend: "app", name: name, address: "127.0.0.1", port: 1))
            }
        }
        do {
            try await balancer.remove(backend: "app", server: "web-parent")
        } catch let error as HAProxyError {
            #expect(error.isNotOwned)
            #expect(error.message.contains("app/web-parent"))
        }
        let report = try await balancer.reconcile(backend: "app", expected: [])
        #expect(report.foreign == ["manual-1", "web-parent"])
        #expect(report.readded.isEmpty && report.unexpected.isEmpty)

        let servers = try await balancer.servers(backend: "app")
        #expect(servers.map(\.name).sorted() == ["manual-1", "web-parent"])
        #expect(servers.allSatisfy { $0.status == .up })
    }
}

/// A count that request tasks share.
private final class Counter: Sendable {
    let value = Atomic(0)
}
