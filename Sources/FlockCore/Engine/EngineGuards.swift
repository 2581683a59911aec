import Foundation

/// The guards around the rules: which data a check may judge (step 1), and how far and how soon
/// a recommendation may move the pool (steps 2 and 3).
extension DecisionEngine {
    /// What the data guard leaves of a check's samples.
    enum Screened {
        /// The window has a value for the check's rule.
        case usable(CheckReading)
        /// The guard voted already: missing data, or waiting for samples of the current fleet.
        case decided(CheckVote)
    }

    // MARK: Missing metrics

    /// Missing data never reads as zero: no sample, an unreadable or non-finite newest sample, a
    /// stale one or an empty window votes *missing*. Per-server samples from before the serving count
    /// last changed are left out; if only those exist, the check holds until the new fleet reports.
    static func read(
        _ check: Check, policy: Policy, counts: CapacityCounts, samples: [MetricSample], now: Date
    ) -> Screened {
        func missing(_ why: String) -> Screened {
            let vote = CheckVote(
                check: check.name, metric: check.metric, value: nil, kind: .missing, desired: nil, detail: why)
            return .decided(vote)
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
                return .decided(
                    CheckVote(
                        check: check.name, metric: check.metric, value: nil, kind: .hold, desired: nil,
                        detail:
                            "\(check.name): waiting for \(metric) samples since the serving count changed \(format(now.timeIntervalSince(since)))s ago"
                    ))
            }
            return missing("\(check.name): no \(metric) values in the last \(check.window.flockText)")
        }
        let observed = "\(check.name): \(metric) \(check.aggregate.rawValue) \(format(value))"
        return .usable(CheckReading(check: check, counts: counts, value: value, observed: observed))
    }

    // MARK: Min and max

    /// The combined count, clamped to [min, max]: the recommendation a decision records.
    static func clamp(_ wanted: Int, to capacity: Policy.Capacity, why: inout String) -> Int {
        let recommendation = capacity.clamp(wanted)
        if recommendation != wanted {
            why += wanted > capacity.max ? ", capped at max \(capacity.max)" : ", raised to min \(capacity.min)"
        }
        return recommendation
    }

    // MARK: Cooldowns, stabilization and the largest step

    /// Scale-out waits for its cooldown since the last real scale-out, then moves at most `max_step`.
    static func guardScaleOut(
        to recommendation: Int, policy: Policy, total: Int, history: [Decision], now: Date, why: inout String
    ) -> (action: Decision.Action, to: Int) {
        if let last = history.last(where: { !$0.dryRun && $0.action == .scaleOut }),
            case let left = policy.scaleOut.cooldown.seconds - now.timeIntervalSince(last.time), left > 0
        {
            why += "; scale-out cooldown (\(format(left))s left)"
            return (.hold, total)
        }
        let to = min(recommendation, total + policy.scaleOut.maxStep)
        if to < recommendation { why += "; limited to max_step \(policy.scaleOut.maxStep)" }
        return (.scaleOut, to)
    }

    /// Scale-in waits for warming instances, takes the highest recommendation of its stabilization
    /// window, waits for its cooldown since any real action, then moves at most `max_step`.
    static func guardScaleIn(
        to recommendation: Int, policy: Policy, counts: CapacityCounts, history: [Decision], now: Date,
        why: inout String
    ) -> (action: Decision.Action, to: Int) {
        let total = counts.total
        let window = now.addingTimeInterval(-policy.scaleIn.stabilization.seconds)
        let stabilized = policy.capacity.clamp(
            history.filter { $0.time > window }.map(\.recommendation).reduce(recommendation, max)
        )
        if counts.warming > 0 {
            why += "; no scale-in while \(counts.warming) instance(s) warm up"
            return (.hold, total)
        }
        if stabilized >= total {
            why +=
                "; stabilization: \(stabilized) was recommended in the last \(policy.scaleIn.stabilization.flockText)"
            return (.hold, total)
        }
        if let last = history.last(where: { !$0.dryRun && $0.isAction }),
            case let left = policy.scaleIn.cooldown.seconds - now.timeIntervalSince(last.time), left > 0
        {
            why += "; scale-in cooldown (\(format(left))s left)"
            return (.hold, total)
        }
        let to = max(stabilized, total - policy.scaleIn.maxStep)
        if stabilized > recommendation {
            why += "; stabilized at \(stabilized) over \(policy.scaleIn.stabilization.flockText)"
        }
        if to > stabilized { why += "; limited to max_step \(policy.scaleIn.maxStep)" }
        return (.scaleIn, to)
    }
}
