import FlockCore
import Foundation
import Testing

/// The replay model behind `flockctl simulate`.
@Suite struct BacktestTests {
    /// One target-value check on sessions per server: target 10, 1 s evaluations, short cooldowns.
    func policy(latency _: Duration = .seconds(1)) -> Policy {
        Policy(
            pool: "web", parent: "web-parent", balancer: .init(backend: "app", port: 80),
            capacity: .init(min: 1, max: 10), evaluationInterval: .seconds(1),
            checks: [
                Check(
                    name: "load", metric: .sessionsPerServer, window: .seconds(3), aggregate: .mean,
                    rule: .targetValue(.init(target: 10)))
            ],
            scaleOut: .init(cooldown: .seconds(1), maxStep: 10),
            scaleIn: .init(cooldown: .seconds(5), stabilization: .seconds(5), maxStep: 1), dryRun: true
        )
    }

    /// Sessions as a backend total, one row per second.
    func series(_ sessions: [Double?]) -> Backtest.Series {
        Backtest.Series(
            metrics: [.sessions], rows: sessions.enumerated().map { (time: Double($0.offset), values: [$0.element]) })
    }

    func run(_ sessions: [Double?], latency: Duration = .seconds(1)) -> ([Backtest.Change], Backtest.Summary) {
        var changes: [Backtest.Change] = []
        let summary = Backtest(policy: policy(), startCount: 1, cloneLatency: latency).run(series(sessions)) {
            changes.append($0)
        }
        return (changes, summary)
    }

    @Test func aLoadStepScalesOutOnceWhileClonesWarmUp() {
        // 40 sessions on one server wants 4; with a 3 s clone latency the warming clones count,
        // so the engine does not ask again while they come up.
        let (changes, summary) = run(Array(repeating: 40, count: 8), latency: .seconds(3))
        #expect(changes.map(\.decision.action) == [.scaleOut])
        #expect(changes.first.map { ($0.time, $0.decision.from, $0.decision.to) } ?? (0, 0, 0) == (0, 1, 4))
        #expect(summary.maxServing == 4 && summary.scaleOuts == 1 && summary.scaleIns == 0)
    }

    @Test func perServerValuesFollowTheSimulatedServingCount() {
        // After the step the per-server value is 40/4 = 10, on target: no second scale-out.
        let (changes, _) = run(Array(repeating: 40, count: 20))
        #expect(changes.count == 1)
        #expect(changes.allSatisfy { !$0.decision.dryRun }, "a backtest shows what the policy would do")
    }

    @Test func scaleInIsStepwiseAfterTheLoadDrops() {
        let (changes, summary) = run(Array(repeating: 40, count: 5) + Array(repeating: 4, count: 40))
        let ins = changes.filter { $0.decision.action == .scaleIn }
        #expect(ins.count == 3)
        #expect(ins.allSatisfy { $0.decision.from - $0.decision.to == 1 })
        #expect(zip(ins.dropFirst(), ins).allSatisfy { $0.time - $1.time >= 5 })
        #expect(summary.minServing == 1)
    }

    @Test func missingCellsHoldInsteadOfScalingIn() {
        let (changes, _) = run(Array(repeating: 40, count: 5) + Array(repeating: nil, count: 40))
        #expect(changes.allSatisfy { $0.decision.action == .scaleOut })
    }

    @Test func evaluationTimesStayExact() {
        var p = policy()
        p.evaluationInterval = .milliseconds(300)
        var times: [Double] = []
        let rows = Backtest.Series(metrics: [.sessions], rows: (0..<40).map { (time: Double($0) * 0.3, values: [40]) })
        _ = Backtest(policy: p, startCount: 1, cloneLatency: .zero).run(rows) { times.append($0.time) }
        #expect(!times.isEmpty)
        #expect(times.allSatisfy { ($0 / 0.3 - ($0 / 0.3).rounded()).magnitude < 1e-9 })
    }

    @Test func secondsAreScoredUntilTheClonesServe() {
        // 40 sessions on one server (target 10 ± 10 %): short until the three clones serve at 3 s;
        // serving plus warming is four instances every second.
        let (_, summary) = run(Array(repeating: 40, count: 8), latency: .seconds(3))
        #expect(summary.underProvisionedSeconds == 3)
        #expect(summary.instanceSeconds == 32)

        var late = Backtest(policy: policy(), startCount: 1, cloneLatency: .seconds(3), scoreFrom: .seconds(2))
        let scored = late.run(series(Array(repeating: 40, count: 8))) { _ in }
        #expect(scored.underProvisionedSeconds == 1)
        #expect(scored.instanceSeconds == 24)

        // A policy without a target-value check scores no seconds short.
        late.scored = nil
        #expect(late.run(series(Array(repeating: 40, count: 8))) { _ in }.underProvisionedSeconds == 0)
    }
}

/// Store samples as a replay series, for `flockctl simulate --pool`.
@Suite struct BacktestSeriesTests {
    @Test func samplesBecomeRowsAndPerServerValuesTheirTotals() {
        let t = Date(timeIntervalSince1970: 1_000)
        let samples = [
            MetricSample(metric: .sessionRatePerServer, time: t, value: 50),
            MetricSample(metric: .serversUp, time: t, value: 3),
            MetricSample(metric: .queue, time: t, value: 2),
            MetricSample(metric: .sessionRatePerServer, time: t.addingTimeInterval(2), value: 40),
            MetricSample(metric: .serversUp, time: t.addingTimeInterval(2), value: 4),
            MetricSample(metric: .queue, time: t.addingTimeInterval(2), reading: .error("refused")),
        ]
        let series = Backtest.Series(samples: samples.reversed())
        #expect(series.metrics == [.queue, .sessionRate, .serversUp])
        #expect(series.rows.map(\.time) == [0, 2])
        #expect(series.rows.map(\.values) == [[2, 150, 3], [nil, 160, 4]])
    }
}
