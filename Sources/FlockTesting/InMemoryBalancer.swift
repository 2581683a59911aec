import FlockCore

/// A `Balancer` that keeps servers in memory and drains them when a test says sessions ended.
public actor InMemoryBalancer: Balancer {
    private var backends: [String: [String: BalancerServer]]
    private var refuseRemovals = false
    private var failHealthChecks = false

    /// - Parameter backends: the backends that exist; registering into another one fails.
    public init(backends: [String]) {
        self.backends = Dictionary(uniqueKeysWithValues: backends.map { ($0, [:]) })
    }

    /// Sets a server's open sessions, as traffic would.
    public func setSessions(_ sessions: Int, backend: String, server: String) {
        backends[backend]?[server]?.sessions = sessions
    }

    /// Sets a server's health as its checks would, e.g. `.down` for a guest that stopped answering.
    public func setStatus(_ status: BalancerServer.Status, backend: String, server: String) {
        backends[backend]?[server]?.status = status
    }

    /// Makes every removal fail until switched off, as an unreachable balancer would.
    public func refuseRemovals(_ on: Bool) {
        refuseRemovals = on
    }

    /// Makes every registration fail its health gate until switched off, as a balancer that
    /// cannot reach the clones' network would.
    public func failHealthChecks(_ on: Bool) {
        failHealthChecks = on
    }

    /// Adds a server that Flock does not own, as `haproxy.cfg` would.
    public func addStatic(_ server: BalancerServer, backend: String) {
        backends[backend]?[server.name] = server
    }

    public func register(_ server: ServerRegistration) async throws {
        guard var servers = backends[server.backend] else { throw FlockError.notFound("no backend \(server.backend)") }
        if let existing = servers[server.name] {
            guard existing.address == server.address, existing.port == server.port else {
                throw FlockError.conflict(
                    "\(server.backend)/\(server.name) is registered at \(existing.address):\(existing.port), not \(server.address):\(server.port)"
                )
            }
            return
        }
        guard !failHealthChecks else {
            throw FlockError.unavailable("\(server.backend)/\(server.name) never passed its health check (test)")
        }
        servers[server.name] = BalancerServer(
            name: server.name, address: server.address, port: server.port, status: .up)
        backends[server.backend] = servers
    }

    public func drain(backend: String, server: String, timeout: Duration) async throws -> DrainOutcome {
        guard let current = backends[backend]?[server] else {
            throw FlockError.notFound("no server \(backend)/\(server)")
        }
        backends[backend]?[server]?.status = .draining
        return current.sessions == 0 ? .drained : .timedOut(sessions: current.sessions)
    }

    public func remove(backend: String, server: String) async throws {
        guard backends[backend] != nil else { throw FlockError.notFound("no backend \(backend)") }
        guard !refuseRemovals else { throw FlockError.unavailable("the balancer refuses removals (test)") }
        backends[backend]?[server] = nil
    }

    public func servers(backend: String) async throws -> [BalancerServer] {
        guard let servers = backends[backend] else { throw FlockError.notFound("no backend \(backend)") }
        return servers.values.sorted { $0.name < $1.name }
    }

    public func check(backend: String) async throws -> BackendCheck {
        BackendCheck(backend: backend, servers: try await servers(backend: backend).count)
    }
}
