import FlockCore
import Foundation

/// Shared builders for the decision-engine tests: policies, checks, samples and history at fixed times.
enum Fixture {
    /// Every engine test measures time from here.
    static let t0 = Date(timeIntervalSince1970: 1_000_000)

    /// `t0` shifted by `seconds`.
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func policy(
        _ checks: [Check], min: Int = 1, max: Int = 20, interval: Duration = .seconds(5),
        outCooldown: Duration = .seconds(30), outStep: Int = 10,
        inCooldown: Duration = .seconds(120), stabilization: Duration = .seconds(300), inStep: Int = 10,
        dryRun: Bool = false
    ) -> Policy {
        Policy(
            pool: "web", parent: "web-parent", balancer: .init(backend: "web", port: 8080),
            capacity: .init(min: min, max: max), evaluationInterval: interval, checks: checks,
            scaleOut: .init(cooldown: outCooldown, maxStep: outStep),
            scaleIn: .init(cooldown: inCooldown, stabilization: stabilization, maxStep: inStep),
            dryRun: dryRun
        )
    }

    static func target(
        _ name: String = "per-server", _ metric: MetricName = .sessionsPerServer, target: Double = 100,
        tolerance: Double = Check.TargetValue.defaultTolerance, aggregate: Aggregate = .last,
        window: Duration = .seconds(30)
    ) -> Check {
        Check(
            name: name, metric: metric, window: window, aggregate: aggregate,
            rule: .targetValue(.init(target: target, tolerance: tolerance))
        )
    }

    static func threshold(
        _ name: String = "queue", _ metric: MetricName = .queue, _ bound: Check.Threshold.Bound,
        for sustain: Duration? = nil, _ action: Check.Threshold.Action, aggregate: Aggregate = .last,
        window: Duration = .seconds(30)
    ) -> Check {
        Check(
            name: name, metric: metric, window: window, aggregate: aggregate,
            rule: .threshold(.init(bound: bound, sustain: sustain, action: action))
        )
    }

    /// One value sample of `metric` at `time` (default: `t0`).
    static func sample(_ metric: MetricName, _ value: Double, at time: Date = t0) -> MetricSample {
        MetricSample(metric: metric, time: time, value: value)
    }

    /// A source error for `metric` at `time` (default: `t0`).
    static func failure(_ metric: MetricName, at time: Date = t0) -> MetricSample {
        MetricSample(metric: metric, time: time, reading: .error("connection refused"))
    }

    /// `values` as samples every `spacing` seconds, the last one at `end`.
    static func series(
        _ metric: MetricName, _ values: [Double], endingAt end: Date = t0, spacing: Double = 5
    )
        -> [MetricSample]
    {
        values.enumerated().map { index, value in
            sample(metric, value, at: end.addingTimeInterval(-Double(values.count - 1 - index) * spacing))
        }
    }

    /// A recorded decision, for cooldown and stabilization history.
    static func past(
        _ action: Decision.Action, at time: Date, from: Int = 4, to: Int? = nil, recommendation: Int? = nil,
        votes: [CheckVote] = [], dryRun: Bool = false
    ) -> Decision {
        let to = to ?? (action == .scaleOut ? from + 1 : action == .scaleIn ? from - 1 : from)
        return Decision(
            pool: "web", time: time, action: action, from: from, to: to, recommendation: recommendation ?? to,
            reason: "recorded", votes: votes, dryRun: dryRun
        )
    }

    static func decide(
        _ policy: Policy, serving: Int, warming: Int = 0, servingSince: Date? = nil, history: [Decision] = [],
        samples: [MetricSample], now: Date = t0
    ) -> Decision {
        DecisionEngine.decide(
            policy: policy, counts: CapacityCounts(serving: serving, warming: warming, servingSince: servingSince),
            history: history,
            samples: samples, now: now
        )
    }
}

extension Decision {
    /// The vote of the check named `name`, if it voted.
    func vote(_ name: String) -> CheckVote? { votes.first { $0.check == name } }
}
