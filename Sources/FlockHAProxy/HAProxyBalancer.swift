import FlockCore
import FlockSystem
import Foundation

/// Registers, drains and removes Flock's servers in an HAProxy 2.6 backend through the runtime API.
///
/// The sequences follow what HAProxy requires of dynamic servers:
/// - **register:** `add server` (it starts in maintenance, checks off) → `enable health` → wait
///   until the check passes → `enable server`. A server that never passes is deleted, never enabled.
/// - **drain:** `set server … state drain` → poll `scur`/`qcur` until both are zero or the timeout.
/// - **remove:** `set server … state maint` → `del server` (HAProxy refuses to delete a server
///   that still has connections, so removal follows a drain).
///
/// Only names that start with `ownedPrefix` are ever changed; anything else is refused.
public struct HAProxyBalancer: Balancer {
    public var client: RuntimeClient
    /// Defaults for every `add server`, overridden field by field by each registration's own
    /// options; HAProxy 2.6 does not apply `default-server` to dynamic servers.
    public var options: ServerOptions
    /// How long a new server may take to pass its health check before it is given up and deleted.
    public var healthTimeout: Duration
    /// How often state is polled while waiting for a health check or a drain.
    public var pollInterval: Duration
    /// How long a removal waits for the streams still using a server (see `remove`).
    public var removalTimeout: Duration
    /// Names Flock owns start with this (`flock-`).
    public var ownedPrefix: String

    /// How long a new server may take to pass its health check unless the config says otherwise.
    public static let defaultHealthTimeout: Duration = .seconds(30)

    public init(
        client: RuntimeClient, options: ServerOptions = ServerOptions(),
        healthTimeout: Duration = HAProxyBalancer.defaultHealthTimeout,
        pollInterval: Duration = .milliseconds(200), removalTimeout: Duration = .seconds(20),
        ownedPrefix: String = OwnedName.prefix
    ) {
        self.client = client
        self.options = options
        self.healthTimeout = healthTimeout
        self.pollInterval = pollInterval
        self.removalTimeout = removalTimeout
        self.ownedPrefix = ownedPrefix
    }

    /// True when Flock may change a server of this name.
    public func owns(_ server: String) -> Bool { server.hasPrefix(ownedPrefix) && server.count > ownedPrefix.count }

    private func requireOwned(backend: String, server: String) throws {
        try RuntimeNames.checkName(backend, kind: "backend")
        try RuntimeNames.checkName(server, kind: "server")
        guard owns(server) else { throw HAProxyError.notOwned(backend: backend, server: server, prefix: ownedPrefix) }
    }

    // MARK: - register

    public func register(_ server: ServerRegistration) async throws {
        try requireOwned(backend: server.backend, server: server.name)
        let target = "\(server.backend)/\(server.name)"
        if let existing = try await client.showServersState(backend: server.backend).server(
            server.name, of: server.backend)
        {
            try await adopt(existing, as: server)
            return
        }
        do {
            try await client.addServer(
                backend: server.backend, server: server.name, address: server.address, port: server.port,
                options: options.overridden(by: server.options)
            )
        } catch let error as HAProxyError where error.isRejected && error.message.contains("Already exists") {
            // Another caller added it between our read and our add: judge it as an existing server.
            guard
                let existing = try await client.showServersState(backend: server.backend)
                    .server(server.name, of: server.backend)
            else { throw error }
            try await adopt(existing, as: server)
            return
        }
        do {
            FaultPoint.reach("register:maintenance")
            try await gate(server, target: target)
        } catch {
            await discard(backend: server.backend, server: server.name)
            throw error
        }
    }

    /// A server of that name is already there: a no-op at the same address, a conflict at another.
    /// One left in maintenance by an interrupted registration is gated and enabled now.
    private func adopt(_ existing: ServerState, as server: ServerRegistration) async throws {
        guard existing.address == server.address, existing.port == server.port else {
            throw FlockError.conflict(
                "\(server.backend)/\(server.name) is registered at \(existing.address):\(existing.port.map(String.init) ?? "-"), "
                    + "not \(server.address):\(server.port); remove it first"
            )
        }
        let halfDone = existing.admin.contains(.forcedMaintenance) && existing.admin.isDisjoint(with: .anyDrain)
        if halfDone {
            try await gate(server, target: "\(server.backend)/\(server.name)")
        }
    }

    /// `enable health`, wait for the check to pass, then `enable server` and see it running.
    private func gate(_ server: ServerRegistration, target: String) async throws {
        try await client.enableHealth(backend: server.backend, server: server.name)
        let deadline = ContinuousClock.now + healthTimeout
        // While a server is in maintenance HAProxy 2.6 reports srv_op_state 0 whatever its checks
        // say, so the check's own verdict is what is read: passed, with the health counter at rise.
        while true {
            guard
                let state = try await client.showServersState(backend: server.backend).server(
                    server.name, of: server.backend)
            else { throw FlockError.notFound("\(target) disappeared while waiting for its health check") }
            let passed = state.checkResult == .passed || state.checkResult == .conditionallyPassed
            if passed, state.checkHealth >= options.overridden(by: server.options).effectiveRise { break }
            guard ContinuousClock.now < deadline else {
                throw HAProxyError.healthCheckFailed(
                    "\(target) at \(server.address):\(server.port) did not pass its health check within \(healthTimeout)"
                        + (await lastCheck(server)) + "; it was never enabled and has been deleted"
                )
            }
            try await Task.sleep(for: pollInterval)
        }
        try await client.enableServer(backend: server.backend, server: server.name)
        FaultPoint.reach("register:enabled")
        let enabledBy = ContinuousClock.now + max(pollInterval * 10, .seconds(2))
        while true {
            let state = try await client.showServersState(backend: server.backend).server(
                server.name, of: server.backend)
            if state?.operational == .running { return }
            guard ContinuousClock.now < enabledBy else {
                throw HAProxyError.healthCheckFailed("\(target) was enabled but HAProxy does not report it running")
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// The last check's status and description from `show stat`, for the timeout message.
    private func lastCheck(_ server: ServerRegistration) async -> String {
        guard let row = try? await client.showStat(backend: server.backend).server(server.name, of: server.backend)
        else {
            return ""
        }
        let parts = [row["check_status"], row["check_desc"]].compactMap { $0 }
        return parts.isEmpty ? "" : " (last check: \(parts.joined(separator: ", ")))"
    }

    /// Best-effort clean-up of a registration that failed: maintenance, then delete.
    private func discard(backend: String, server: String) async {
        try? await client.setState(.maint, backend: backend, server: server)
        try? await client.deleteServer(backend: backend, server: server)
    }

    // MARK: - drain and remove

    /// Drains until `scur` and `qcur` are both zero. A timed-out drain reports `scur + qcur`, every
    /// request still in flight or waiting.
    public func drain(backend: String, server: String, timeout: Duration) async throws -> DrainOutcome {
        try requireOwned(backend: backend, server: server)
        guard try await client.showServersState(backend: backend).server(server, of: backend) != nil else {
            throw FlockError.notFound("HAProxy has no server \(backend)/\(server) to drain")
        }
        try await client.setState(.drain, backend: backend, server: server)
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let row = try await client.showStat(backend: backend).server(server, of: backend) else {
                return .drained  // removed meanwhile: nothing can be in flight on it
            }
            guard let sessions = row.integer("scur"), let queued = row.integer("qcur") else {
                throw HAProxyError.malformed("show stat \(backend)", "no scur/qcur for \(backend)/\(server)")
            }
            if sessions == 0, queued == 0 { return .drained }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return .timedOut(sessions: sessions + queued) }
            try await Task.sleep(for: min(pollInterval, left))
        }
    }

    /// Puts the server in maintenance and deletes it once nothing uses it. HAProxy refuses while
    /// connections remain: idle ones close on maintenance, so the delete is retried; sessions still
    /// open after a moment (a drain that timed out: a long poll, a stuck client) are shut down, as
    /// the drain timeout promised.
    ///
    /// It also waits for the streams HAProxy 2.6 does not count. A request whose connection to the
    /// server failed (a dead VM, a refused port) waits a turn-around before it tries again, with no
    /// connection and no session on the server. 2.6 deletes the server under it, and the retry
    /// then uses freed memory and brings the whole balancer down (reproduced with 2.6.12, which
    /// aborts with "malloc(): unsorted double linked list corrupted"; 2.9 refuses such a delete
    /// itself). So the delete is sent only once `show sess` lists no stream on the server. Such
    /// streams end once their retries are spent (`retries` × `timeout connect`, plus a second's
    /// turn-around each), which `removalTimeout` covers; past it the removal fails, and the
    /// caller's next attempt waits again.
    public func remove(backend: String, server: String) async throws {
        try requireOwned(backend: backend, server: server)
        guard let state = try await client.showServersState(backend: backend).server(server, of: backend) else {
            return
        }
        if !state.admin.contains(.forcedMaintenance) {
            try await client.setState(.maint, backend: backend, server: server)
            FaultPoint.reach("remove:maintenance")
        }
        var shutdownAt: ContinuousClock.Instant? = ContinuousClock.now + max(pollInterval * 5, .seconds(1))
        let deadline = ContinuousClock.now + removalTimeout
        while true {
            let streams = try await client.streams(backend: backend, server: server)
            if streams == 0 {
                do {
                    try await client.deleteServer(backend: backend, server: server)
                    return
                } catch let error as FlockError where error.isNotFound {
                    return
                } catch let error as HAProxyError where error.isRejected && error.message.contains("connections") {
                    guard ContinuousClock.now < deadline else { throw error }
                }
            }
            if let due = shutdownAt, ContinuousClock.now >= due {
                try await client.shutdownSessions(backend: backend, server: server)
                shutdownAt = nil
            }
            guard ContinuousClock.now < deadline else {
                throw FlockError.unavailable(
                    "\(backend)/\(server) is still used by \(streams) stream(s) after \(removalTimeout.flockText) in maintenance; "
                        + "not deleted yet (HAProxy 2.6 crashes deleting a server that streams still use)")
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    // MARK: - listing

    public func servers(backend: String) async throws -> [BalancerServer] {
        try await serverDetails(backend: backend).map(\.server)
    }

    /// What `flockctl lb show` prints: each server with its state, load and owner.
    public struct ServerDetail: Sendable, Hashable {
        public var server: BalancerServer
        public var queue: Int?
        public var responseTimeMs: Int?
        /// HAProxy's own words for the state (`UP`, `DRAIN`, `MAINT`, `DOWN 1/2`, …).
        public var statusText: String
        public var ownedByFlock: Bool
    }

    public func serverDetails(backend: String) async throws -> [ServerDetail] {
        let state = try await client.showServersState(backend: backend)
        let stat = try await client.showStat(backend: backend)
        return state.servers.filter { $0.backend == backend }.map { entry in
            let row = stat.server(entry.name, of: backend)
            let status: BalancerServer.Status =
                if !entry.admin.isDisjoint(with: .anyMaintenance) {
                    .maintenance
                } else if !entry.admin.isDisjoint(with: .anyDrain) { .draining } else if entry.operational == .running {
                    .up
                } else { .down }
            return ServerDetail(
                server: BalancerServer(
                    name: entry.name, address: entry.address, port: entry.port ?? 0, status: status,
                    sessions: row?.integer("scur") ?? 0
                ),
                queue: row?.integer("qcur"), responseTimeMs: row?.integer("rtime"),
                statusText: row?.status ?? status.rawValue, ownedByFlock: owns(entry.name)
            )
        }
    }
}
