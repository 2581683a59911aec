import FlockCore
import FlockStore
import Foundation

extension PoolController {
    /// What a reconcile found and did, for the start-up log and for tests.
    public struct ReconcileReport: Sendable, Hashable {
        /// Flock-owned VMs of this pool with no live record in the store, destroyed.
        public var orphanVMs: [String] = []
        /// Flock-owned servers of this pool with no live instance, drained and removed.
        public var staleServers: [String] = []
        /// Serving clones whose server was missing (a balancer reload), registered again.
        public var reregistered: [String] = []
        /// Clones whose VM was gone or stopped, failed (and so cleaned up and replaced).
        public var lostVMs: [String] = []
        /// Journal intents left open by a crash, closed as interrupted (start-up only).
        public var interruptedIntents: Int = 0
    }

    /// Makes the store agree with what the hypervisor and the balancer really have, at the start
    /// of every tick, so that a fault is repaired while the daemon runs and the decision that
    /// follows counts only capacity that serves.
    ///
    /// Its cost is bounded and small: one listing of the hypervisor's VMs, one of the backend's
    /// servers and one run-state query of the parent. Every change it makes goes through the same
    /// journaled steps as everything else, and a dead clone is replaced by the policy's own
    /// decision, not behind its back. Instances with work in flight are left to that work. A
    /// paused pool's parent is left as it is: pausing the pool is how an operator says they are
    /// working on the parent. `startingUp` (from `recover()`) destroys orphan VMs without a grace.
    @discardableResult
    func reconcile(at time: Date, paused: Bool, startingUp: Bool = false) async -> ReconcileReport {
        var report = ReconcileReport()
        if !paused { await healParent() }
        guard let all = try? instances() else { return report }
        if let vms = try? await drivers.hypervisor.ownedVMs().filter({ OwnedName.isOwned($0.name, pool: pool) }) {
            await reconcileVMs(vms, with: all, at: time, grace: startingUp ? .zero : settings.orphanGrace, &report)
        }
        // Read again: the VM pass may have failed clones, which must not be registered again.
        let backend = policy.balancer.backend
        if let all = try? instances(), let servers = try? await drivers.balancer.servers(backend: backend) {
            reconcileServers(servers.filter { OwnedName.isOwned($0.name, pool: pool) }, with: all, at: time, &report)
        }
        await retireOldBackends()
        return report
    }

    /// A parent left paused (a snapshot that a crash interrupted, or an operator) serves nobody
    /// and holds the whole pool: resume it, and say so. A missing parent is reported once.
    /// Not called for a paused pool (see `reconcile`).
    private func healParent() async {
        do {
            if let found = try await drivers.hypervisor.resumeParent(name: policy.parent) {
                event(.instance, "parent \(policy.parent) was \(found) with no snapshot under way; resumed it")
            }
            parentProblem = nil
        } catch {
            let problem = "\(error)"
            if problem != parentProblem { event(.failure, "parent \(policy.parent): \(problem)") }
            parentProblem = problem
        }
    }

    /// Clones whose VM died are failed (and so destroyed, their snapshot released, and replaced
    /// by the next decision); VMs of this pool the store has no live record of are destroyed once
    /// they have been seen for `orphanGrace`, so that a VM another step is just creating is safe.
    private func reconcileVMs(
        _ vms: [VMInfo], with all: [Instance], at time: Date, grace: Duration, _ report: inout ReconcileReport
    ) async {
        let byName = Dictionary(vms.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for clone in all where clone.role == .clone && inFlight[clone.name] == nil {
            guard [.standby, .ready, .registering, .serving, .draining].contains(clone.state) else { continue }
            let what = clone.state == .standby ? "standby VM" : "VM"
            switch byName[clone.name]?.status {
            case nil:
                let cause = await drivers.hypervisor.lostCause(of: clone.name)
                fail(clone.name, because: cause ?? "its \(what) is gone")
            case .stopped: fail(clone.name, because: "its \(what) stopped")
            case .running, .paused:
                if clone.state == .standby, let times = byName[clone.name]?.standby { standbyTimes[clone.name] = times }
                continue
            }
            standbyTimes[clone.name] = nil
            report.lostVMs.append(clone.name)
        }
        let live = Set(all.filter { $0.state != .gone }.map(\.name))
        for vm in vms where !live.contains(vm.name) && inFlight[vm.name] == nil {
            let seen = orphanSince[vm.name] ?? time
            orphanSince[vm.name] = seen
            guard time.timeIntervalSince(seen) >= grace.seconds else { continue }
            orphanSince[vm.name] = nil
            report.orphanVMs.append(vm.name)
            event(.instance, "\(vm.name): VM of this pool with no live record in the store; destroying it")
            _ = try? await journaled("destroy", instance: vm.name, detail: "orphan VM") {
                try await self.drivers.hypervisor.destroy(name: vm.name)
            }
        }
        orphanSince = orphanSince.filter { byName[$0.key] != nil && !live.contains($0.key) }
    }

    /// Servers of this pool without a live instance are removed; serving clones the balancer lost
    /// are registered again; a serving clone that stays DOWN for longer than its health check
    /// allows is failed, so that capacity and per-server metrics count the same servers.
    ///
    /// A clone that flaps (DOWN, UP for a check or two, DOWN again: a guest too slow for its check
    /// timeout) serves almost nothing, yet no single DOWN spell lasts the allowance. So its DOWN
    /// clock stops only once it has stayed UP for the allowance too; until then a flapping clone
    /// is failed and replaced like one that stays DOWN.
    private func reconcileServers(
        _ servers: [BalancerServer], with all: [Instance], at time: Date, _ report: inout ReconcileReport
    ) {
        let backend = policy.balancer.backend
        let byName = Dictionary(servers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let expected = Set(
            all.filter { [.ready, .registering, .serving, .draining].contains($0.state) }.map(\.name))
        for server in servers where !expected.contains(server.name) && inFlight[server.name] == nil {
            event(.instance, "\(server.name): server in \(backend) with no live instance; draining and removing it")
            report.staleServers.append(server.name)
            retireInBackground(server.name, from: backend, why: "stale server")
        }
        let allowance = downAllowance
        for clone in all where clone.role == .clone && clone.state == .serving && inFlight[clone.name] == nil {
            let name = clone.name
            guard let server = byName[name] else {
                event(.instance, "\(name) is missing from \(backend) (balancer reloaded?); registering again")
                report.reregistered.append(name)
                inFlight[name] = Task {
                    await self.register(name, decidedAt: nil)
                    self.inFlight[name] = nil
                }
                continue
            }
            guard server.status == .down else {
                guard downSince[name] != nil else { continue }
                let upAgain = upAgainSince[name] ?? time
                upAgainSince[name] = upAgain
                if time.timeIntervalSince(upAgain) >= allowance.seconds {
                    downSince[name] = nil
                    upAgainSince[name] = nil
                    flapping.remove(name)
                }
                continue
            }
            if upAgainSince.removeValue(forKey: name) != nil { flapping.insert(name) }
            let since = downSince[name] ?? time
            downSince[name] = since
            let down = time.timeIntervalSince(since)
            if down >= allowance.seconds {
                downSince[name] = nil
                let spell =
                    flapping.remove(name) != nil ? " (UP again meanwhile, never for \(allowance.flockText))" : ""
                fail(
                    name,
                    because:
                        "DOWN in \(backend) for \(Duration.seconds(down).flockText)\(spell): its health check fails")
            }
        }
        downSince = downSince.filter { byName[$0.key] != nil }
        upAgainSince = upAgainSince.filter { downSince[$0.key] != nil }
        flapping = flapping.filter { downSince[$0] != nil }
    }

    /// How long a serving server may be DOWN before it stops counting: the checks HAProxy needs
    /// to mark it up again (`rise`) plus those that marked it down (`fall`), at its check interval.
    var downAllowance: Duration {
        let options = policy.balancer.server
        let interval = options.interval ?? .seconds(2)
        return interval * ((options.rise ?? 2) + (options.fall ?? 3))
    }

    /// Backends this pool used under earlier policy versions still hold its servers after a
    /// move: drain them (bounded by the drain timeout) and remove them. The serving clones are
    /// registered in the new backend meanwhile, by the repair above.
    private func retireOldBackends() async {
        if retiredBackends == nil {
            let used = (try? store.policyHistory(pool: pool).map(\.backend)) ?? []
            retiredBackends = Set(used).subtracting([policy.balancer.backend])
        }
        for backend in retiredBackends ?? [] {
            guard let servers = try? await drivers.balancer.servers(backend: backend) else {
                retiredBackends?.remove(backend)  // gone from the balancer: nothing can be left in it
                continue
            }
            let ours = servers.filter { OwnedName.isOwned($0.name, pool: pool) }
            if ours.isEmpty {
                retiredBackends?.remove(backend)
                continue
            }
            for server in ours where inFlight["\(backend)/\(server.name)"] == nil {
                event(
                    .instance,
                    "\(server.name): left in \(backend), which the policy no longer uses; draining and removing it")
                retireInBackground(server.name, from: backend, why: "old backend")
            }
        }
    }

    /// Runs `drainAndRemove` as a task of its own, so that a drain never delays the tick. It is
    /// keyed by backend and server, apart from the instance's own work.
    private func retireInBackground(_ server: String, from backend: String, why: String) {
        let key = "\(backend)/\(server)"
        guard inFlight[key] == nil else { return }
        inFlight[key] = Task {
            await self.drainAndRemove(server, from: backend, why: why)
            self.inFlight[key] = nil
        }
    }

    /// Drains a server no instance stands behind (bounded by the drain timeout), then removes it,
    /// both journaled; failures are left for the next reconcile to try again.
    private func drainAndRemove(_ server: String, from backend: String, why: String) async {
        let timeout = policy.scaleIn.drainTimeout
        _ = try? await journaled("drain", instance: server, detail: "\(backend)/\(server), \(why)") {
            try await self.drivers.balancer.drain(backend: backend, server: server, timeout: timeout)
        }
        _ = try? await journaled("remove", instance: server, detail: "\(backend)/\(server), \(why)") {
            try await self.drivers.balancer.remove(backend: backend, server: server)
        }
    }
}
