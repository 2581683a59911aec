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
///    With a `predictive` block in `scale` mode, the forecast then raises (never lowers) the count
///    to ⌈forecast demand ÷ target⌉ (`PredictiveFloor.swift`, `Forecast.swift`).
///    The result is clamped to [min, max] and recorded as the recommendation.
/// 3. **Guards apply.** Scale-out waits for its cooldown since the last scale-out. Scale-in waits for
///    warming instances, takes the highest recommendation of its stabilization window, and waits for
///    its cooldown since any action. Each action moves at most `max_step`. Dry-run decisions are
///    computed the same way but never start a cooldown.
///
/// One file per part, as nomad-autoscaler keeps its strategies apart: this one runs the steps,
/// `TargetValueRule.swift` and `ThresholdRule.swift` hold the rules, and `EngineGuards.swift` the
/// data guard of step 1 and the guards of steps 2 and 3.
public enum DecisionEngine {
    /// Decides for `policy` at `now`.
    /// - Parameters:
    ///   - history: this pool's earlier decisions, oldest first; `DecisionHistory` keeps the ones that matter.
    ///   - samples: this pool's samples, any order; samples after `now` are ignored.
    ///   - demand: the predictive check's demand, bucketed by a caller that keeps a season of it
    ///     (`flockctl simulate`); without it the engine buckets `samples`.
    ///   - timeToServe: the pool's measured decision-to-serving p95, for the default predictive lead.
    public static func decide(
        policy: Policy, counts: CapacityCounts, history: [Decision], samples: [MetricSample], now: Date,
        demand: DemandHistory? = nil, timeToServe: Duration? = nil
    ) -> Decision {
        let byMetric = Dictionary(grouping: samples.filter { $0.time <= now }, by: \.metric)
            .mapValues { $0.sorted { $0.time < $1.time } }
        let previous = history.last.flatMap { now.timeIntervalSince($0.time) <= policy.staleAfter.seconds ? $0 : nil }
        let votes = policy.checks.map { check in
            vote(
                check, policy: policy, counts: counts, samples: byMetric[check.metric] ?? [], previous: previous,
                now: now)
        }
        let forecast = policy.predictive.flatMap {
            forecastNote(
                $0, policy: policy, samples: samples, demand: demand, timeToServe: timeToServe, previous: previous,
                now: now)
        }
        return combine(votes, forecast: forecast, policy: policy, counts: counts, history: history, now: now)
    }

    // MARK: Step 1, votes

    /// One check's vote: the data guard reads its window, then the check's rule judges the value.
    private static func vote(
        _ check: Check, policy: Policy, counts: CapacityCounts, samples: [MetricSample], previous: Decision?, now: Date
    ) -> CheckVote {
        let reading: CheckReading
        switch read(check, policy: policy, counts: counts, samples: samples, now: now) {
        case .decided(let vote): return vote
        case .usable(let usable): reading = usable
        }
        switch check.rule {
        case .targetValue(let rule): return targetValueVote(rule, reading: reading)
        case .threshold(let rule): return thresholdVote(rule, reading: reading, previous: previous, now: now)
        }
    }

    // MARK: Steps 2 and 3, combining and guards

    private static func combine(
        _ votes: [CheckVote], forecast: ForecastNote?, policy: Policy, counts: CapacityCounts, history: [Decision],
        now: Date
    ) -> Decision {
        let total = counts.total
        var (wanted, why) = tally(votes, total: total)
        // A forecast only raises the floor: it never asks for fewer instances than the checks do.
        if policy.predictive?.mode == .scale, let forecast, let floor = forecast.wants, floor > wanted {
            wanted = floor
            why = "the forecast for \(forecast.check) wants \(floor)"
        }
        let recommendation = clamp(wanted, to: policy.capacity, why: &why)

        var action = Decision.Action.hold
        var to = total
        if recommendation > total {
            (action, to) = guardScaleOut(
                to: recommendation, policy: policy, total: total, history: history, now: now, why: &why)
        } else if recommendation < total {
            (action, to) = guardScaleIn(
                to: recommendation, policy: policy, counts: counts, history: history, now: now, why: &why)
        }

        let verb: String
        switch action {
        case .scaleOut: verb = "scale out \(total) → \(to)"
        case .scaleIn: verb = "scale in \(total) → \(to)"
        case .hold: verb = "hold at \(total)"
        }
        let details = (votes.map(\.detail) + (forecast.map { [$0.detail] } ?? [])).joined(separator: "; ")
        return Decision(
            pool: policy.pool, time: now, action: action, from: total, to: to, recommendation: recommendation,
            reason: "\(policy.dryRun ? "[dry run] " : "")\(verb): \(why) [\(details)]", votes: votes,
            dryRun: policy.dryRun, forecast: forecast
        )
    }

    /// Step 2: any scale-out vote wins with its largest count; scale-in needs a scale-in vote and no
    /// hold or missing vote, and takes the largest count; otherwise the pool keeps `total`.
    private static func tally(_ votes: [CheckVote], total: Int) -> (wanted: Int, why: String) {
        let outs = votes.filter { $0.kind == .scaleOut }
        let ins = votes.filter { $0.kind == .scaleIn }
        let vetoes = votes.filter { $0.kind == .hold || $0.kind == .missing }
        // Scale-out and scale-in votes always carry a desired count.
        if let top = outs.max(by: { ($0.desired ?? 0) < ($1.desired ?? 0) }), let desired = top.desired {
            return (desired, "\(top.check) wants \(desired)")
        }
        if let largest = ins.compactMap(\.desired).max(), vetoes.isEmpty {
            return (largest, "every voting check agrees to scale in (largest count \(largest))")
        }
        if let veto = vetoes.first(where: { $0.kind == .missing }) ?? vetoes.first {
            return (total, veto.kind == .missing ? "holding on missing data" : "\(veto.check) holds")
        }
        return (total, "no check crossed its bound")
    }
}

/// Numbers in reasons: integers print bare, others with at most two decimals.
func format(_ x: Double) -> String {
    let rounded = (x * 100).rounded() / 100
    return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int(rounded)) : String(rounded)
}
