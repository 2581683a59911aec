import FlockCore
import FlockStore
import Foundation

extension PoolController {
    /// Makes the store, the hypervisor and the balancer agree, before the first tick after a start,
    /// and remembers the decisions and samples the policy still needs.
    ///
    /// It is the per-tick `reconcile` with two start-up differences: journal intents a crash left
    /// open are closed as interrupted, and orphan VMs are destroyed at once (the lock on the state
    /// root means no other process can be creating one). Only names Flock owns for this pool are
    /// ever touched. Work that a crash interrupted is left to the first ticks
    /// (`resumeUnfinishedWork`): half-done registrations are finished, drains are completed, clones
    /// whose identity was never acknowledged are rolled back.
    @discardableResult
    public func recover() async throws -> ReconcileReport {
        ControllerMetrics.declare(pool: pool)
        let time = now()
        try adoptParent(at: time)
        try remember(at: time)
        var closed = 0
        for intent in try store.openIntents(pool: pool) {
            try store.journalResult(
                intentId: intent.id, phase: .failed, detail: "interrupted by a restart; reconciled at start-up",
                at: time)
            closed += 1
        }
        var report = try await reconcile(at: time, paused: store.pool(named: pool)?.paused ?? false, startingUp: true)
        report.interruptedIntents = closed
        await settle()  // the drains and registrations it started, so the first tick sees their result
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
        try seedDemand(at: time)
    }

    /// Records the warm parent as the pool's first instance, serving, if the store lacks it.
    private func adoptParent(at time: Date) throws {
        guard try !instances().contains(where: { $0.role == .parent && $0.name == policy.parent }) else { return }
        try store.upsert(Instance(name: policy.parent, pool: pool, role: .parent, state: .serving, createdAt: time))
    }
}
