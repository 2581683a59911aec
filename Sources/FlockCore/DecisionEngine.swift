import Foundation

/// Turns a policy, the pool's counts, its recent decisions and its samples into one `Decision`.
///
/// The engine is a pure function of its inputs (no clock, no I/O), so every rule below is tested
/// with plain values. One evaluation runs in three steps:
///
/// 1. **Each check votes.** A check whose metric has no sample newer than `2 × evaluation_interval`,
///    or whose newest sample is a source error, votes *missing*. Otherwise it aggregates its window:
///    - target-value: desired = ceil(serving × value / target), or *hold* within the tolerance;
///    - threshold: once the bound has been crossed continuously for `for`, desired = serving ± step;
///      a bound that is not crossed *abstains*.
///    Desired counts start from the serving instances, because that is what the metrics describe;
///    they are compared with capacity, which also counts warming instances (warm-up accounting).
///    Per-server samples from before the serving count last changed are left out of the window.
/// 2. **Votes combine, safest first.** Any scale-out vote wins and the largest count is taken.
///    Scale-in needs at least one scale-in vote and no hold or missing vote; the largest count wins.
///    The result is clamped to [min, max] and recorded as the recommendation.
/// 3. **Guards apply.** Scale-out waits for its cooldown since the last scale-out. Scale-in waits for
///    warming instances, takes the highest recommendation of its stabilization window, and waits for
///    its cooldown since any action. Each action moves at most `max_step`. Dry-run decisions are
///    computed the same way but never start a cooldown.
public enum DecisionEngine {
    /// Decides for `policy` at `now`.
    /// - Parameters:
    ///   - history: this pool's earlier decisions, oldest first; `DecisionHistory` keeps the ones that matter.
    ///   - samples: this pool's samples, any order; samples after `now` are ignored.
    public static func decide(
        policy: Policy, counts: CapacityCounts, history: [Decision], samples: [MetricSample], now: Date
    ) -> Decision {
        let byMetric = Dictionary(grouping: samples.filter { $0.time <= now }, by: \.metric)
            .mapValues { $0.sorted { $0.time < $1.time } }
        let previous = history.last.flatMap { now.timeIntervalSince($0.time) <= policy.staleAfter.seconds ? $0 : nil }
        let votes = policy.checks.map { check in
            vote(
                check, policy: policy, counts: counts, samples: byMetric[check.metric] ?? [], previous: previous,
                now: now)
        }
        return combine(votes, policy: policy, counts: counts, history: history, now: now)
    }

    // MARK: Step 1, votes

    private static func vote(
        _ check: Check, policy: Policy, counts: CapacityCounts, samples: [MetricSample], previous: Decision?, now: Date
    ) -> CheckVote {
        func missing(_ why: String) -> CheckVote {
            CheckVote(check: check.name, metric: check.metric, value: nil, kind: .missing, desired: nil, detail: why)
        }
        let metric = check.metric.rawValue
        guard let newest = samples.last else { return missing("\(check.name): no samples of \(metric)") }
        if case .error(let why) = newest.reading { return missing("\(check.name): \(metric) unreadable: \(why)") }
        if newest.value == nil { return missing("\(check.name): \(metric) is not a finite number") }
        let age = now.timeIntervalSince(newest.time)
        if age > policy.staleAfter.seconds {
            return missing(
                "\(check.name): \(metric) is stale (newest sample \(format(age))s old, limit \(policy.staleAfter.flockText))"
            )
        }
        let cutoff = now.addingTimeInterval(-check.window.seconds)
        let since = check.metric.perServerBase == nil ? nil : counts.servingSince
        let values = samples.lazy.filter { $0.time > cutoff && $0.time >= (since ?? $0.time) }.compactMap(\.value)
        guard let value = check.aggregate.apply(Array(values)) else {
            if let since, samples.contains(where: { $0.time > cutoff && $0.value != nil }) {
                // Data exists, but only for the fleet before the last change: wait, do not guess.
                return CheckVote(
                    check: check.name, metric: check.metric, value: nil, kind: .hold, desired: nil,
                    detail:
                        "\(check.name): waiting for \(metric) samples since the serving count changed \(format(now.timeIntervalSince(since)))s ago"
                )
            }
            return missing("\(check.name): no \(metric) values in the last \(check.window.flockText)")
        }
        let observed = "\(check.name): \(metric) \(check.aggregate.rawValue) \(format(value))"

        func proposal(_ desired: Int, because rule: String, breachSince: Date? = nil) -> CheckVote {
            let kind: CheckVote.Kind
            let wants: String
            if desired > counts.total {
                kind = .scaleOut
                wants = "wants \(desired)"
            } else if desired < counts.total {
                kind = .scaleIn
                wants = "wants \(desired)"
            } else {
                kind = .hold
                wants = "wants \(desired), already asked for"
            }
            return CheckVote(
                check: check.name, metric: check.metric, value: value, kind: kind, desired: desired,
                breachSince: breachSince, detail: "\(observed) \(rule), \(wants)"
            )
        }

        switch check.rule {
        case .targetValue(let tv):
            let band = "target \(format(tv.target)) ±\(format(tv.tolerance * 100))%"
            // Compared as |value − target| ≤ tolerance × target, with a relative epsilon, so that a
            // value exactly on the bound (110 for 100 ± 10%) holds despite binary rounding.
            if abs(value - tv.target) <= tv.tolerance * tv.target * (1 + 1e-9) {
                return CheckVote(
                    check: check.name, metric: check.metric, value: value, kind: .hold, desired: counts.serving,
                    detail: "\(observed) within \(band)"
                )
            }
            let exact = Double(max(counts.serving, 1)) * value / tv.target
            // 28.000000000000004 is 28; an absurd reading must not overflow Int, so it is bounded first.
            let desired = Int(min(exact * (1 - 1e-12), Double(Policy.countLimit)).rounded(.up))
            return proposal(desired, because: "vs \(band)")

        case .threshold(let th):
            let boundText: String
            switch th.bound {
            case .above(let limit): boundText = "above \(format(limit))"
            case .below(let limit): boundText = "below \(format(limit))"
            }
            guard th.bound.isCrossed(by: value) else {
                return CheckVote(
                    check: check.name, metric: check.metric, value: value, kind: .abstain, desired: nil,
                    detail: "\(observed) not \(boundText)"
                )
            }
            let since = previous?.votes.first { $0.check == check.name }?.breachSince ?? now
            let lasted = now.timeIntervalSince(since)
            if let sustain = th.sustain, lasted < sustain.seconds {
                let adds: Bool
                switch th.action {
                case .add, .addPercent: adds = true
                case .remove, .removePercent: adds = false
                }
                // A pending scale-out still says "capacity is short": it vetoes scale-in meanwhile.
                return CheckVote(
                    check: check.name, metric: check.metric, value: value, kind: adds ? .hold : .abstain,
                    desired: nil, breachSince: since,
                    detail: "\(observed) \(boundText) for \(format(lasted))s of \(sustain.flockText)"
                )
            }
            let desired = max(th.action.desired(from: counts.serving), 0)
            let lastedText = th.sustain.map { "for \(format(lasted))s (≥ \($0.flockText))" } ?? "now"
            return proposal(desired, because: "\(boundText) \(lastedText)", breachSince: since)
        }
    }

    // MARK: Steps 2 and 3, combining and guards

    private static func combine(
        _ votes: [CheckVote], policy: Policy, counts: CapacityCounts, history: [Decision], now: Date
    ) -> Decision {
        let total = counts.total
        let capacity = policy.capacity
        let outs = votes.filter { $0.kind == .scaleOut }
        let ins = votes.filter { $0.kind == .scaleIn }
        let vetoes = votes.filter { $0.kind == .hold || $0.kind == .missing }

        let wanted: Int
        var why: String
        // Scale-out and scale-in votes always carry a desired count.
        if let top = outs.max(by: { ($0.desired ?? 0) < ($1.desired ?? 0) }), let desired = top.desired {
            wanted = desired
            why = "\(top.check) wants \(wanted)"
        } else if let largest = ins.compactMap(\.desired).max(), vetoes.isEmpty {
            wanted = largest
            why = "every voting check agrees to scale in (largest count \(wanted))"
        } else {
            wanted = total
            if let veto = vetoes.first(where: { $0.kind == .missing }) ?? vetoes.first {
                why = veto.kind == .missing ? "holding on missing data" : "\(veto.check) holds"
            } else {
                why = "no check crossed its bound"
            }
        }
        let recommendation = capacity.clamp(wanted)
        if recommendation != wanted {
            why += wanted > capacity.max ? ", capped at max \(capacity.max)" : ", raised to min \(capacity.min)"
        }

        var action = Decision.Action.hold
        var to = total
        if recommendation > total {
            if let last = history.last(where: { !$0.dryRun && $0.action == .scaleOut }),
                case let left = policy.scaleOut.cooldown.seconds - now.timeIntervalSince(last.time), left > 0
            {
                why += "; scale-out cooldown (\(format(left))s left)"
            } else {
                action = .scaleOut
                to = min(recommendation, total + policy.scaleOut.maxStep)
                if to < recommendation { why += "; limited to max_step \(policy.scaleOut.maxStep)" }
            }
        } else if recommendation < total {
            let window = now.addingTimeInterval(-policy.scaleIn.stabilization.seconds)
            let stabilized = capacity.clamp(
                history.filter { $0.time > window }.map(\.recommendation).reduce(recommendation, max)
            )
            if counts.warming > 0 {
                why += "; no scale-in while \(counts.warming) instance(s) warm up"
            } else if stabilized >= total {
                why +=
                    "; stabilization: \(stabilized) was recommended in the last \(policy.scaleIn.stabilization.flockText)"
            } else if let last = history.last(where: { !$0.dryRun && $0.isAction }),
                case let left = policy.scaleIn.cooldown.seconds - now.timeIntervalSince(last.time), left > 0
            {
                why += "; scale-in cooldown (\(format(left))s left)"
            } else {
                action = .scaleIn
                to = max(stabilized, total - policy.scaleIn.maxStep)
                if stabilized > recommendation {
                    why += "; stabilized at \(stabilized) over \(policy.scaleIn.stabilization.flockText)"
                }
                if to > stabilized { why += "; limited to max_step \(policy.scaleIn.maxStep)" }
            }
        }

        let verb: String
        switch action {
        case .scaleOut: verb = "scale out \(total) → \(to)"
        case .scaleIn: verb = "scale in \(total) → \(to)"
        case .hold: verb = "hold at \(total)"
        }
        let details = votes.map(\.detail).joined(separator: "; ")
        return Decision(
            pool: policy.pool, time: now, action: action, from: total, to: to, recommendation: recommendation,
            reason: "\(policy.dryRun ? "[dry run] " : "")\(verb): \(why) [\(details)]", votes: votes,
            dryRun: policy.dryRun
        )
    }
}

/// Numbers in reasons: integers print bare, others with at most two decimals.
func format(_ x: Double) -> String {
    let rounded = (x * 100).rounded() / 100
    return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int(rounded)) : String(rounded)
}
