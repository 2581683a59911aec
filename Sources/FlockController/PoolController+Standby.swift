import FlockCore
import FlockStore
import FlockSystem
import Foundation

extension PoolController {
    /// Keeps the policy's standbys: replaces those too old or beyond the count, and restores what
    /// is missing from the parent in one background batch.
    ///
    /// A standby is recorded only once the hypervisor returns it, so one being restored never
    /// counts as warming capacity; a crash meanwhile leaves a VM with no record, which the
    /// start-up reconcile destroys. Nothing new is made for a paused pool, nor while a scale-out's
    /// own clones wait for the parent, nor during either backoff: the scale-out's (the parent is
    /// failing) or the standbys' own, which never holds up a scale-out (a hypervisor that makes no
    /// standbys must not cost the pool its capacity). A dry-run pool's standbys are left as they are.
    func maintainStandbys(_ all: [Instance], at time: Date, paused: Bool) {
        guard !policy.dryRun else { return }
        let wanted = policy.standby?.count ?? 0
        let idle = all.filter { $0.state == .standby && inFlight[$0.name] == nil }
        var fresh: [Instance] = []
        for standby in idle {
            if let age = standbyAge(standby.name, at: time), let maxAge = policy.standby?.maxAge, age > maxAge {
                discardStandby(
                    standby.name, why: "its memory is \(age.flockText) old, over max_age \(maxAge.flockText)")
            } else {
                fresh.append(standby)
            }
        }
        // Beyond the count (a policy lowered it, or removed the block): the stalest go first.
        let byAge = fresh.sorted { (standbyAge($0.name, at: time) ?? .zero) > (standbyAge($1.name, at: time) ?? .zero) }
        for standby in byAge.prefix(max(fresh.count - wanted, 0)) {
            discardStandby(
                standby.name, why: wanted == 0 ? "the policy keeps no standbys" : "over standby.count \(wanted)")
        }
        let missing = wanted - fresh.count - restoringStandbys
        let clonesWaiting = all.contains { $0.state == .requested || $0.state == .cloning }
        let backedOff = cloneBackoff.holds(at: time) || standbyBackoff.holds(at: time)
        guard missing > 0, !paused, !clonesWaiting, !backedOff else { return }
        let names = (0..<missing).map { _ in OwnedName.make(pool: pool, suffix: Self.randomSuffix()) }
        restoringStandbys += names.count
        let task = Task { await self.restoreStandbys(names) }
        for name in names { inFlight[name] = task }
    }

    /// The standbys of the pool ready to activate: idle, and within `max_age`.
    func activatableStandbys(_ all: [Instance], at time: Date) -> [Instance] {
        guard let maxAge = policy.standby?.maxAge else { return [] }
        return all.filter { instance in
            guard instance.state == .standby, inFlight[instance.name] == nil,
                let age = standbyAge(instance.name, at: time)
            else { return false }
            return age <= maxAge
        }
        .sorted { (standbyAge($0.name, at: time) ?? .zero) < (standbyAge($1.name, at: time) ?? .zero) }
    }

    /// How far behind the parent a standby's memory is, from what the hypervisor last reported.
    ///
    /// A standby made from a snapshot that was already older than `max_age` (the hypervisor
    /// reuses snapshots up to its own `snapshot_max_age`) is aged from its restore instead, so
    /// that it is not replaced by another just as old over and over.
    func standbyAge(_ name: String, at time: Date) -> Duration? {
        guard let known = standbyTimes[name] else { return nil }
        let bornStale =
            known.createdAt.timeIntervalSince(known.frozenAt) > (policy.standby?.maxAge.seconds ?? .infinity)
        return .seconds(max(time.timeIntervalSince(bornStale ? known.createdAt : known.frozenAt), 0))
    }

    /// Restores `names` as standbys from a snapshot of the parent, then records each.
    private func restoreStandbys(_ names: [String]) async {
        defer {
            restoringStandbys -= names.count
            for name in names { inFlight[name] = nil }
        }
        let request = CloneRequest(pool: pool, parent: policy.parent, mode: .lazy, names: names, standby: true)
        let batch: CloneBatch
        do {
            batch = try await journaled(
                "standby", instance: nil,
                detail: "\(names.count) standby clone(s) of \(policy.parent): \(names.joined(separator: ", "))",
                result: { batch in
                    batch.failed.isEmpty
                        ? (true, "\(batch.started.count) restored")
                        : (false, "failed: \(batch.failed.keys.sorted().joined(separator: ", "))")
                }
            ) {
                try await self.drivers.hypervisor.clone(request)
            }
        } catch {
            event(.failure, "standby restore of \(names.count) clone(s) failed: \(error)")
            for name in names { await discardVM(name) }
            standbyBackoff.note(failed: true, at: now(), settings)
            return
        }
        for (name, cause) in batch.failed.sorted(by: { $0.key < $1.key }) {
            event(.failure, "\(name): standby restore failed: \(cause)")
            await discardVM(name)
        }
        standbyBackoff.note(failed: !batch.failed.isEmpty, at: now(), settings)
        for vm in batch.started {
            let instance = Instance(
                name: vm.name, pool: pool, role: .clone, state: .standby, lineage: vm.lineage, address: vm.address,
                port: vm.port, mac: vm.mac, createdAt: now())
            do {
                try store.upsert(instance)
            } catch {
                event(.failure, "\(vm.name): could not record the standby (\(error)); destroying it")
                await discardVM(vm.name)
                continue
            }
            standbyTimes[vm.name] = vm.standby
            FaultPoint.reach("standby:recorded")
            if let times = vm.standby, let maxAge = policy.standby?.maxAge,
                times.createdAt.timeIntervalSince(times.frozenAt) > maxAge.seconds
            {
                event(
                    .instance,
                    "\(vm.name): standby made from a snapshot already older than max_age \(maxAge.flockText); "
                        + "lower the hypervisor's snapshot_max_age below it")
            } else {
                event(.instance, "\(vm.name): standby restored from \(vm.lineage.snapshot ?? "a snapshot")")
            }
        }
    }

    /// Activates up to `count` standbys for a scale-out and registers them; returns how many it
    /// took, so that fresh clones make up the rest.
    func activateStandbys(upTo count: Int, among all: [Instance], decidedAt: Date) -> Int {
        let chosen = activatableStandbys(all, at: decidedAt).prefix(count)
        for standby in chosen {
            let name = standby.name
            inFlight[name] = Task {
                await self.activate(name, decidedAt: decidedAt)
                self.inFlight[name] = nil
            }
        }
        return chosen.count
    }

    /// New identity, vCPUs started, agent ack (the hypervisor's `activate`), then the same gated
    /// registration as a fresh clone. A standby that fails to activate is failed and destroyed, and
    /// a fresh clone takes its place at once, so the decision still gets its capacity.
    private func activate(_ name: String, decidedAt: Date) async {
        let age = standbyAge(name, at: decidedAt)
        do {
            let vm = try await journaled(
                "activate", instance: name, detail: "standby \(name)",
                before: { try self.store.transition(instance: name, to: .booting, at: self.now()) }
            ) {
                try await self.drivers.hypervisor.activate(name: name)
            }
            standbyTimes[name] = nil
            guard var instance = try store.instance(named: name) else { return }
            instance.address = vm.address
            instance.port = vm.port ?? policy.balancer.port
            instance.mac = vm.mac
            instance.lineage = vm.lineage
            try store.upsert(instance)
            let behind = age.map { ", caches \($0.flockText) behind the parent" } ?? ""
            try store.transition(
                instance: name, to: .ready, at: now(), note: "standby activated, identity acknowledged\(behind)")
            FaultPoint.reach("activate:ready")
        } catch {
            standbyTimes[name] = nil
            fail(name, because: "standby activation failed: \(error)")
            await destroy(name)
            scaleOut(by: 1, at: decidedAt)
            return
        }
        await register(name, decidedAt: decidedAt)
    }

    /// Destroys an idle standby: it never took traffic, so there is nothing to drain.
    private func discardStandby(_ name: String, why: String) {
        event(.instance, "\(name): discarding standby: \(why)")
        standbyTimes[name] = nil
        inFlight[name] = Task {
            await self.destroy(name)
            self.inFlight[name] = nil
        }
    }

    /// Destroys a VM a standby restore made but the store never recorded.
    private func discardVM(_ name: String) async {
        _ = try? await journaled("destroy", instance: name, detail: "unrecorded standby") {
            try await self.drivers.hypervisor.destroy(name: name)
        }
    }
}
