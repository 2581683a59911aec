import FlockCore
import FlockSystem
import Foundation
import Logging

extension QEMUDriver {
    /// The `Hypervisor` entry point: an unknown name is thrown as `FlockError.notFound`, a VM
    /// that is not a standby as `FlockError.conflict`; a failed activation is a `QEMUError`.
    public func activate(name: String) async throws -> VMInfo {
        do {
            return VMStatusReport(record: try await activateStandby(name), pid: nil, status: .running).info
        } catch {
            throw error.asFlockError
        }
    }

    /// Turns a standby into an ordinary lazy clone: new identity → `cont` → agent ack.
    ///
    /// Everything slow was done when the standby was made (QEMU started, device state loaded,
    /// memory mapped), so what is left is the guest's side of the identity. To save the round
    /// trip of waiting for `ready` first, `hello` and the identity are queued on the agent's
    /// socket while the vCPUs are still stopped: the guest finds them the moment it runs. The
    /// guest clock is stepped to the identity's time, taken just before `cont`. What remains
    /// under TCG is translating the guest's identity path in this new QEMU (`warmStandbys`).
    ///
    /// A standby that fails to activate cannot go back to waiting (its guest has run), so it is
    /// destroyed, its snapshot released with it if nothing else uses it, and the error thrown.
    public func activateStandby(_ name: String) async throws(QEMUError) -> VMRecord {
        try prepareRoot()
        guard VMSpec.isValidName(name), var record = record(named: name) else { throw .notFound(name) }
        guard record.standby != nil else {
            let what = record.role == .parent ? "a parent" : "a clone that already runs"
            throw .refused("cannot activate '\(name)': it is \(what), not a standby")
        }
        guard !activating.contains(name) else { throw .refused("standby \(name) is already being activated") }
        let paths = paths(name)
        guard let pid = Self.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket) else {
            throw .notFound("\(name) (the standby's QEMU is not running; destroy it)")
        }
        activating.insert(name)
        defer { activating.remove(name) }
        let started = ContinuousClock.now
        do throws(QEMUError) {
            let qmp = try await QMPClient.connect(
                path: paths.qmpSocket, timeout: .seconds(5), keepTrying: { ProcessTable.isAlive(pid) })
            defer { qmp.close() }
            // From here on it is a clone: a crash before the ack leaves one that never got its
            // identity, which recovery treats like any clone caught half-way.
            record.standby = nil
            try JSONFile.write(record, to: paths.metadata)
            try await handOverQueuedIdentity(record, resuming: qmp)
            if record.spec.network.mode == .bridge {
                try await qmp.execute("set_link", arguments: ["name": "nic0", "up": true])
            }
            let elapsed = ContinuousClock.now - started
            configuration.logger.info(
                "standby \(name) activated in \(elapsed.formatted(.units(allowed: [.milliseconds], fractionalPart: .show(length: 1))))"
            )
            return record
        } catch {
            let said = qemuLogTail(paths)
            try? await destroyClone(name)
            throw .launch(name, "activating the standby failed, so it was destroyed: \(error.message)\(said)")
        }
    }

    /// hello and the identity, queued before `cont`; then the `ready` and the `ack`.
    ///
    /// A restored guest occasionally never hears a first connection (see `handOverIdentity`);
    /// the `ready` for the queued hello tells: without it, the connection is opened again, the
    /// hello repeated until answered, and a fresh identity sent (its clock now later).
    func handOverQueuedIdentity(_ record: VMRecord, resuming qmp: QMPClient) async throws(QEMUError) {
        let socket = paths(record.name).agentSocket
        var agent = try await AgentClient.connect(path: socket, vm: record.name)
        defer { agent.close() }
        let network = try bridgeIdentityNetwork(record)
        var identity = CloneIdentity.fresh(
            cloneID: record.name, generation: record.lineage.generation, network: network)
        try agent.sendHello()
        try agent.sendIdentity(identity)
        try await resume(qmp)
        if try await agent.receiveReady(timeout: Self.firstConnectionPatience) == nil {
            configuration.logger.warning("standby \(record.name) did not hear its first agent connection; reconnecting")
            agent.close()
            agent = try await AgentClient.connect(path: socket, vm: record.name)
            _ = try await agent.waitReady(requireApp: false, timeout: configuration.agentTimeout)
            identity = CloneIdentity.fresh(
                cloneID: record.name, generation: record.lineage.generation, network: network)
            try agent.sendIdentity(identity)
        }
        let ack = try await agent.acknowledgement(of: identity, timeout: configuration.agentTimeout)
        if let hooks = ack.hooksSummary {
            configuration.logger.info("clone \(record.name) ran its clone hooks: \(hooks)")
        }
    }

    /// How long an activation waits for the guest to answer its queued hello before it opens
    /// the agent connection again: a running guest answers within milliseconds.
    static let firstConnectionPatience: Duration = .seconds(2)
}
