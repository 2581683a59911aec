import FlockCore
import FlockStore
import Foundation

extension PoolController {
    /// What recovery found and did, for the log and for tests.
    public struct RecoveryReport: Sendable, Hashable {
        /// Flock-owned VMs of this pool the store did not know about, destroyed.
        public var orphanVMs: [String] = []
        /// Flock-owned servers of this pool the store did not expect, drained and removed.
        public var staleServers: [String] = []
        /// Serving clones whose server was missing (a balancer reload), registered again.
        public var reregistered: [String] = []
        /// Clones the store had whose VM was gone, marked failed and cleaned up.
        public var lostVMs: [String] = []
        /// Journal intents left open by a crash, closed as interrupted.
        public var interruptedIntents: Int = 0
    }

    /// Makes the store, the hypervisor and the balancer agree, before the first tick after a start,
    /// and remembers the decisions and samples the policy still needs.
    ///
    /// Only names Flock owns for this pool are ever touched. Work that a crash interrupted is left
    /// to the first ticks (`resumeUnfinishedWork`): half-done registrations are finished, drains
    /// are completed, clones whose identity was never acknowledged are rolled back.
    @discardableResult
    public func recover() async throws -> RecoveryReport {
        var report = RecoveryReport()
        let time = now()
        try adoptParent(at: time)
        try remember(at: time)
        await healParent()

        for intent in try store.openIntents(pool: pool) {
            try store.journalResult(
                intentId: intent.id, phase: .failed, detail: "interrupted by a restart; reconciled at start-up",
                at: time)
            report.interruptedIntents += 1
        }

        let backend = policy.balancer.backend
        let vms = try await drivers.hypervisor.ownedVMs().filter { OwnedName.isOwned($0.name, pool: pool) }
        let servers = try await drivers.balancer.servers(backend: backend).filter {
            OwnedName.isOwned($0.name, pool: pool)
        }
        let clones = try instances().filter { $0.role == .clone }
        let known = Set(clones.map(\.name))
        let vmNames = Set(vms.map(\.name))
        let serverNames = Set(servers.map(\.name))

        for vm in vms where !known.contains(vm.name) {
            report.orphanVMs.append(vm.name)
            event(.instance, "\(vm.name): orphan VM (not in the store); destroying")
            try? await journaled("destroy", instance: vm.name, detail: "orphan VM") {
                try await self.drivers.hypervisor.destroy(name: vm.name)
            }
        }
        let expectedOnBalancer = Set(
            clones.filter { [.registering, .serving, .draining].contains($0.state) }.map(\.name))
        for server in servers where !expectedOnBalancer.contains(server.name) {
            report.staleServers.append(server.name)
            event(
                .instance,
                "\(server.name): stale server in \(backend) (not serving per the store); draining and removing")
            await drainAndRemove(server.name, from: backend, why: "stale server")
        }
        for clone in clones where !vmNames.contains(clone.name) {
            switch clone.state {
            case .ready, .registering, .serving, .draining:
                // The VM is gone: nothing can serve under this name. Take it out of the balancer.
                report.lostVMs.append(clone.name)
                if serverNames.contains(clone.name) {
                    try? await drivers.balancer.remove(backend: backend, server: clone.name)
                }
                fail(clone.name, because: "its VM is gone")
            default:
                break  // warming and leaving states are finished by resumeUnfinishedWork
            }
        }
        for clone in clones
        where clone.state == .serving && vmNames.contains(clone.name) && !serverNames.contains(clone.name) {
            // A balancer reload dropped it; registering again is idempotent.
            report.reregistered.append(clone.name)
            await register(clone.name, decidedAt: nil)
        }
        return report
    }

    /// Loads the decisions and samples the policy can still use, so that a cooldown or a
    /// stabilization window holds across a restart because it was remembered, not because the
    /// first ticks happened to lack data.
    private func remember(at time: Date) throws {
        let decisions = try store.decisions(
            pool: pool, since: time.addingTimeInterval(-DecisionHistory.horizon(policy).seconds))
        history = DecisionHistory()
        for decision in decisions { history.record(decision, policy: policy) }
        samples = try store.samples(pool: pool, since: time.addingTimeInterval(-sampleHorizon.seconds))
    }

    /// Records the warm parent as the pool's first instance, serving, if the store lacks it.
    private func adoptParent(at time: Date) throws {
        guard try !instances().contains(where: { $0.role == .parent && $0.name == policy.parent }) else { return }
        try store.upsert(Instance(name: policy.parent, pool: pool, role: .parent, state: .serving, createdAt: time))
    }
}
