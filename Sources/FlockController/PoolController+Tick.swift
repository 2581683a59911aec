import FlockCore
import FlockStore
import Foundation

extension PoolController {
    /// One evaluation: read and store samples, decide, record, then start what the decision asks.
    ///
    /// A failing store or metrics source never throws out of a tick: the engine then sees missing
    /// data and holds, and the failure is recorded as an event.
    @discardableResult
    public func tick() async -> Decision {
        let time = now()
        let wanted = Set(policy.checks.map(\.metric)).union(demandMetrics)
        let fresh = clock.onControllerTime(
            await drivers.metrics.read(backend: policy.balancer.backend, metrics: wanted), at: time)
        do {
            try store.append(samples: fresh, pool: pool)
        } catch {
            event(.failure, "could not store samples: \(error)")
        }
        samples += fresh
        rememberDemand(fresh, at: time)
        samples.removeAll { time.timeIntervalSince($0.time) > sampleHorizon.seconds }

        let all: [Instance]
        let row: Pool?
        do {
            row = try store.pool(named: pool)
            await reconcile(at: time, paused: row?.paused ?? false)
            all = try instances()
        } catch {
            event(.failure, "could not read the store: \(error); holding")
            return hold(at: time, reason: "store unreadable")
        }
        let counts = count(all, at: time)
        var decision = DecisionEngine.decide(
            policy: policy, counts: counts, history: history.decisions, samples: samples, now: time,
            demand: predictiveCheck == nil ? nil : demand, timeToServe: timeToServe
        )
        if let manual = row?.manualDesired {
            decision = manualDecision(manual, counts: counts, base: decision)
        }
        let paused = row?.paused ?? false
        if paused && decision.isAction { decision.reason = "[paused, not acting] " + decision.reason }

        history.record(decision, policy: policy)
        do {
            try store.record(decision)
        } catch {
            event(.failure, "could not record a decision: \(error)")
        }
        for event in decision.events { _ = try? store.record(event) }
        ControllerMetrics.record(decision, policy: policy, instances: all)

        resumeUnfinishedWork(all)
        if !paused && !decision.dryRun {
            switch decision.action {
            case .scaleOut: scaleOut(by: decision.to - decision.from, at: time)
            case .scaleIn: scaleIn(by: decision.from - decision.to, among: all)
            case .hold: break
            }
        }
        // Read again: the scale-out above recorded its clones, which go to the parent first.
        maintainStandbys((try? instances()) ?? all, at: time, paused: paused)
        return decision
    }

    /// How far back the policy's checks read samples: the longest window, plus staleness.
    var sampleHorizon: Duration { (policy.checks.map(\.window).max() ?? .zero) + policy.staleAfter }

    /// Serving instances (the parent always counts) and warming ones, and when serving last changed.
    private func count(_ all: [Instance], at time: Date) -> CapacityCounts {
        let clones = all.filter { $0.role == .clone }
        let serving = 1 + clones.filter(\.state.isServing).count
        if serving != lastServing {
            if lastServing != nil { servingSince = time }
            lastServing = serving
        }
        return CapacityCounts(
            serving: serving, warming: clones.filter(\.state.isWarming).count, servingSince: servingSince)
    }

    /// An operator's fixed count wins over the policy's checks, clamped to the policy's bounds and
    /// moved at most `max_step` at a time.
    private func manualDecision(_ manual: Int, counts: CapacityCounts, base: Decision) -> Decision {
        let target = policy.capacity.clamp(manual)
        let total = counts.total
        var decision = base
        decision.recommendation = target
        if target > total {
            decision.action = .scaleOut
            decision.to = min(target, total + policy.scaleOut.maxStep)
        } else if target < total && counts.warming == 0 {
            decision.action = .scaleIn
            decision.to = max(target, total - policy.scaleIn.maxStep)
        } else {
            decision.action = .hold
            decision.to = total
        }
        let verb =
            decision.action == .hold ? "hold at \(total)" : "\(decision.action.rawValue) \(total) → \(decision.to)"
        decision.reason = "\(verb): manual desired count \(manual) (clamped to \(target)); checks ignored"
        return decision
    }

    private func hold(at time: Date, reason: String) -> Decision {
        Decision(
            pool: pool, time: time, action: .hold, from: 0, to: 0, recommendation: 0, reason: "hold: \(reason)",
            votes: [], dryRun: policy.dryRun)
    }
}
