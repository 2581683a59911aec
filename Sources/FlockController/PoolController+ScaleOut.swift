import FlockCore
import FlockStore
import FlockSystem
import Foundation

extension PoolController {
    /// Adds `count` clones: standbys first, activated at once, then new clones for the rest,
    /// recorded as `requested` and forked in one batch.
    func scaleOut(by wanted: Int, at time: Date) {
        let count = wanted - activateStandbys(upTo: wanted, among: (try? instances()) ?? [], decidedAt: time)
        guard count > 0 else { return }
        if cloneBackoff.holds(at: time), let retryAfter = cloneBackoff.retryAfter {
            event(
                .failure,
                "scale-out by \(count) postponed: cloning failed \(cloneBackoff.failures) time(s) in a row; retrying after \(retryAfter)"
            )
            return
        }
        let names = (0..<count).map { _ in OwnedName.make(pool: pool, suffix: Self.randomSuffix()) }
        do {
            for name in names {
                try store.upsert(
                    Instance(
                        name: name, pool: pool, role: .clone, state: .requested,
                        lineage: .init(parent: policy.parent, mode: policy.cloneMode), createdAt: time))
            }
        } catch {
            event(.failure, "could not record new instances: \(error)")
            return
        }
        FaultPoint.reach("scale-out:decided")
        let task = Task { await self.cloneBatch(names, decidedAt: time) }
        for name in names { inFlight[name] = task }
    }

    /// Forks the batch from the parent, then registers every clone that started, in parallel.
    ///
    /// The batch counts toward the clone backoff as a whole, and succeeds only once every clone
    /// in it serves: clones that start but never pass their health check (a host whose VMs the
    /// balancer cannot reach, a guest that does not come up) would otherwise be retried at full
    /// speed, a new clone every few seconds, forever.
    private func cloneBatch(_ names: [String], decidedAt: Date) async {
        defer { for name in names { inFlight[name] = nil } }
        let request = CloneRequest(pool: pool, parent: policy.parent, mode: policy.cloneMode, names: names)
        let started: [VMInfo]
        var cloneFailed: Bool
        do {
            let batch = try await journaled(
                "clone", instance: nil,
                detail:
                    "\(names.count) \(policy.cloneMode.rawValue) clone(s) of \(policy.parent): \(names.joined(separator: ", "))",
                before: {
                    for name in names { try self.store.transition(instance: name, to: .cloning, at: self.now()) }
                },
                result: { batch in
                    batch.failed.isEmpty
                        ? (true, "\(batch.started.count) started")
                        : (false, "failed: \(batch.failed.keys.sorted().joined(separator: ", "))")
                }
            ) {
                try await self.drivers.hypervisor.clone(request)
            }
            for (name, placement) in batch.placements.sorted(by: { $0.key < $1.key }) {
                event(.instance, "\(name) placed \(placement)")
            }
            for (name, cause) in batch.failed.sorted(by: { $0.key < $1.key }) {
                fail(name, because: "clone failed: \(cause)")
                await destroy(name)
            }
            started = batch.started
            cloneFailed = !batch.failed.isEmpty
        } catch {
            for name in names {
                fail(name, because: "clone failed: \(error)")
                await destroy(name)
            }
            noteCloneOutcome(failed: true)
            return
        }
        var recorded: [String] = []
        for vm in started {
            do {
                guard var instance = try store.instance(named: vm.name) else {
                    cloneFailed = true
                    continue
                }
                instance.address = vm.address
                instance.port = vm.port ?? policy.balancer.port
                instance.mac = vm.mac
                instance.lineage = vm.lineage
                try store.upsert(instance)
                // The driver returns a clone once its agent acknowledged the new identity.
                try store.transition(instance: vm.name, to: .booting, at: now())
                try store.transition(instance: vm.name, to: .ready, at: now(), note: "identity acknowledged")
                FaultPoint.reach("scale-out:ready")
                recorded.append(vm.name)
            } catch {
                fail(vm.name, because: "could not record the clone: \(error)")
                await destroy(vm.name)
                cloneFailed = true
            }
        }
        let served = await withTaskGroup(of: Bool.self) { group in
            for name in recorded { group.addTask { await self.register(name, decidedAt: decidedAt) } }
            var all = true
            for await ok in group { all = all && ok }
            return all
        }
        noteCloneOutcome(failed: cloneFailed || !served)
    }

    /// Adds a ready clone to the balancer; only a passed health check lets traffic reach it.
    /// Returns false when the clone failed (and was destroyed); true when it serves, or when only
    /// the store could not record that it does (retried next tick).
    @discardableResult
    func register(_ name: String, decidedAt: Date?) async -> Bool {
        guard let instance = try? store.instance(named: name),
            let address = instance.address
        else {
            fail(name, because: "no address recorded for registration")
            await destroy(name)
            return false
        }
        let port = instance.port ?? policy.balancer.port
        let registration = ServerRegistration(
            backend: policy.balancer.backend, name: name, address: address, port: port, options: policy.balancer.server)
        do {
            if instance.state == .ready { try store.transition(instance: name, to: .registering, at: now()) }
            try await journaled("register", instance: name, detail: "\(registration.backend) at \(address):\(port)") {
                try await self.drivers.balancer.register(registration)
            }
            // A serving clone re-registered after a balancer reload is already serving.
            if instance.state != .serving { try store.transition(instance: name, to: .serving, at: now()) }
            FaultPoint.reach("scale-out:serving")
            if let decidedAt {
                let seconds = now().timeIntervalSince(decidedAt)
                ControllerMetrics.cloneToServing(seconds, pool: pool)
                noteTimeToServe(seconds)
                event(.instance, "\(name) serving \(String(format: "%.2f", seconds))s after the decision")
            }
        } catch let error as StoreError {
            // The store was busy or failing, not the clone: tearing down a server that may already
            // take traffic would drop requests. The instance stays where the store has it, and the
            // next tick registers it again (idempotently) and records it.
            event(.failure, "\(name): registration could not be recorded (\(error)); retrying next tick")
        } catch {
            fail(name, because: "registration failed: \(error)")
            await destroy(name)  // removes the server first, if the balancer got that far
            return false
        }
        return true
    }

    /// Backoff for clone batches that failed to serve, so a broken parent or host does not make
    /// the pool spin.
    private func noteCloneOutcome(failed: Bool) {
        guard let wait = cloneBackoff.note(failed: failed, at: now(), settings),
            cloneBackoff.failures >= settings.failureAlarm
        else { return }
        event(
            .failure,
            "cloning has failed \(cloneBackoff.failures) times in a row (clones that never served); next attempt in \(wait.flockText)"
        )
    }

    /// Eight lowercase hex digits: short, and unique enough within one pool.
    static func randomSuffix() -> String {
        let value = UInt32.random(in: .min ... .max)
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
