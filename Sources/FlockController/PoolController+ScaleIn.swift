import FlockCore
import FlockStore
import FlockSystem
import Foundation

extension PoolController {
    /// Removes `count` clones; the parent is never chosen.
    ///
    /// Clones of the oldest snapshot go first, so that old snapshots lose their last user and are
    /// deleted instead of piling up on tmpfs; among clones of one snapshot, the newest goes first.
    func scaleIn(by count: Int, among all: [Instance]) {
        let victims = all.filter { $0.role == .clone && $0.state == .serving && inFlight[$0.name] == nil }
            .sorted { a, b in
                a.lineage.generation != b.lineage.generation
                    ? a.lineage.generation < b.lineage.generation : a.createdAt > b.createdAt
            }
            .prefix(count)
        for instance in victims {
            inFlight[instance.name] = Task { await self.retire(instance.name, from: .serving) }
        }
    }

    /// Drain, remove from the balancer, destroy: each step journaled, each resumable after a crash.
    func retire(_ name: String, from state: InstanceState) async {
        defer { inFlight[name] = nil }
        let backend = policy.balancer.backend
        do {
            if state == .serving || state == .draining {
                if state == .serving { try store.transition(instance: name, to: .draining, at: now()) }
                let timeout = policy.scaleIn.drainTimeout
                let outcome: DrainOutcome
                do {
                    outcome = try await journaled(
                        "drain", instance: name, detail: "\(backend)/\(name), timeout \(timeout.flockText)",
                        result: { outcome in
                            switch outcome {
                            case .drained: (true, "drained")
                            case .timedOut(let sessions): (false, "timed out with \(sessions) session(s) open")
                            }
                        }
                    ) {
                        try await self.drivers.balancer.drain(backend: backend, server: name, timeout: timeout)
                    }
                } catch let error as FlockError where error.isNotFound {
                    // The balancer lost the server (HAProxy restarted or reloaded): no request can
                    // be in flight on it, so there is nothing to drain. Retrying would never end.
                    event(.instance, "\(name): not in \(backend) any more (\(error)); nothing to drain")
                    outcome = .drained
                }
                if case .timedOut(let sessions) = outcome {
                    event(
                        .instance,
                        "\(name): drain timed out after \(timeout.flockText) with \(sessions) session(s); removing")
                }
                try await journaled("remove", instance: name, detail: "\(backend)/\(name)") {
                    try await self.drivers.balancer.remove(backend: backend, server: name)
                }
                try store.transition(instance: name, to: .stopping, at: now())
            }
            await destroy(name)
        } catch {
            event(.failure, "\(name): scale-in step failed: \(error); retrying next tick")
        }
    }

    /// Destroys the VM and marks the instance gone; from `failed` or `stopping`.
    ///
    /// The VM goes only once the balancer is confirmed not to route to it: a server still there
    /// (a failed registration, a removal that did not finish) is removed first, and if the
    /// balancer cannot be asked or refuses, the VM is kept and the next tick tries again.
    func destroy(_ name: String) async {
        do {
            let current = try store.instance(named: name)
            if let state = current?.state, state != .stopping, state != .failed, state != .gone {
                try store.transition(instance: name, to: .stopping, at: now())
            }
            try await removeFromBalancer(name)
            try await journaled("destroy", instance: name, detail: name) {
                try await self.drivers.hypervisor.destroy(name: name)
            }
            if current?.state != .gone { try store.transition(instance: name, to: .gone, at: now()) }
            FaultPoint.reach("destroy:gone")
        } catch {
            event(.failure, "\(name): destroy failed: \(error); retrying next tick")
        }
    }

    /// Removes `name` from the pool's backend if it is there; a backend the balancer no longer
    /// has routes to nothing.
    private func removeFromBalancer(_ name: String) async throws {
        let backend = policy.balancer.backend
        let servers: [BalancerServer]
        do {
            servers = try await drivers.balancer.servers(backend: backend)
        } catch let error as FlockError where error.isNotFound {
            return
        }
        guard servers.contains(where: { $0.name == name }) else { return }
        try await journaled("remove", instance: name, detail: "\(backend)/\(name), before its VM is destroyed") {
            try await self.drivers.balancer.remove(backend: backend, server: name)
        }
    }

    /// Marks an instance failed with its cause, and says so in the event log.
    func fail(_ name: String, because cause: String) {
        event(.failure, "\(name): \(cause)")
        _ = try? store.transition(instance: name, to: .failed, at: now(), note: cause)
        ControllerMetrics.error(kind: "instance", pool: pool)
    }

    /// Level-triggered repair: instances left between states with no task working on them (a step
    /// failed, or the daemon restarted) get their work started again.
    func resumeUnfinishedWork(_ all: [Instance]) {
        for instance in all where instance.role == .clone && inFlight[instance.name] == nil {
            let name = instance.name
            switch instance.state {
            case .ready, .registering:
                inFlight[name] = Task {
                    await self.register(name, decidedAt: nil); self.inFlight[name] = nil
                }
            case .draining:
                inFlight[name] = Task { await self.retire(name, from: .draining) }
            case .stopping, .failed:
                inFlight[name] = Task {
                    await self.destroy(name); self.inFlight[name] = nil
                }
            case .requested, .cloning, .booting:
                // Only a crash leaves these without a task: the clone's identity was never
                // acknowledged, so it is rolled back rather than trusted.
                inFlight[name] = Task {
                    self.fail(name, because: "interrupted before its identity was acknowledged")
                    await self.destroy(name)
                    self.inFlight[name] = nil
                }
            case .standby, .serving, .gone:
                break
            }
        }
    }
}
