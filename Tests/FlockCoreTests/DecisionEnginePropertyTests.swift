import FlockCore
import Foundation
import PropertyBased
import Testing

/// A random policy shape: bounds, steps, cooldowns (multiples of the 5 s interval) and dry run.
struct Limits: Sendable {
    var min: Int
    var max: Int
    var outStep: Int
    var inStep: Int
    var outCooldown: Int
    var inCooldown: Int
    var stabilization: Int
    var dryRun: Bool

    func policy(_ checks: [Check] = Scenario.checks) -> Policy {
        Fixture.policy(
            checks, min: min, max: max, outCooldown: .seconds(outCooldown), outStep: outStep,
            inCooldown: .seconds(inCooldown), stabilization: .seconds(stabilization), inStep: inStep, dryRun: dryRun
        )
    }
}

/// What a source delivered for one metric: values as fractions of the metric's scale, the age of
/// the newest sample, and whether that newest sample is an error.
struct Feed: Sendable {
    var fractions: [Double]
    var age: Int
    var error: Bool

    /// True when the engine must treat this metric as missing (interval 5 s, so stale after 10 s).
    var isMissing: Bool { error || fractions.isEmpty || age > 10 }

    func samples(_ metric: MetricName, scale: Double, now: Date) -> [MetricSample] {
        let newest = now.addingTimeInterval(-Double(age))
        guard error else { return Fixture.series(metric, fractions.map { $0 * scale }, endingAt: newest) }
        return Fixture.series(metric, fractions.map { $0 * scale }, endingAt: newest.addingTimeInterval(-5))
            + [Fixture.failure(metric, at: newest)]
    }
}

/// One evaluation's inputs: three checks fed by three feeds, counts and earlier decisions.
struct Scenario: Sendable {
    static let checks = [
        Fixture.target("per-server", .sessionsPerServer, target: 100),
        Fixture.threshold("queue", .queue, .above(10), .add(2)),
        Fixture.threshold("fast", .responseTimeMs, .below(20), .remove(1)),
    ]

    var limits: Limits
    var serving: Int
    var warming: Int
    var feeds: [Feed]
    var history: [Decision]

    var policy: Policy { limits.policy() }
    var counts: CapacityCounts { CapacityCounts(serving: serving, warming: warming) }
    var samples: [MetricSample] {
        zip(feeds, [(MetricName.sessionsPerServer, 400.0), (.queue, 50), (.responseTimeMs, 100)]).flatMap {
            feed, metric in feed.samples(metric.0, scale: metric.1, now: Fixture.t0)
        }
    }

    func decide(history: [Decision]? = nil, policy: Policy? = nil) -> Decision {
        DecisionEngine.decide(
            policy: policy ?? self.policy, counts: counts, history: history ?? self.history, samples: samples,
            now: Fixture.t0
        )
    }
}

enum Gens {
    static let limits = zip(
        Gen.int(in: 1...5), Gen.int(in: 0...15), Gen.int(in: 1...5), Gen.int(in: 1...3), Gen.int(in: 0...12),
        Gen.int(in: 0...40), Gen.int(in: 0...60), Gen.bool(0.3)
    ).map { min, span, outStep, inStep, outCooldown, inCooldown, stabilization, dryRun in
        Limits(
            min: min, max: min + span, outStep: outStep, inStep: inStep, outCooldown: outCooldown * 5,
            inCooldown: inCooldown * 5, stabilization: stabilization * 5, dryRun: dryRun
        )
    }

    static let feed = zip(Gen.double(in: 0...1).array(of: 0...5), Gen.int(in: 0...15), Gen.bool(0.15))
        .map { Feed(fractions: $0, age: $1, error: $2) }

    /// A feed the engine must treat as missing: an error, a stale sample, or nothing at all.
    static let missingFeed = zip(Gen.int(in: 0...2), Gen.double(in: 0...1).array(of: 1...5), Gen.int(in: 11...120))
        .map { kind, fractions, staleAge in
            switch kind {
            case 0: Feed(fractions: fractions, age: 0, error: true)
            case 1: Feed(fractions: fractions, age: staleAge, error: false)
            default: Feed(fractions: [], age: 0, error: false)
            }
        }

    /// Earlier decisions within the last 400 s, oldest first.
    static let history = zip(Gen.int(in: 0...2), Gen.int(in: 1...400), Gen.int(in: 0...25), Gen.bool(0.2))
        .map { action, secondsAgo, recommendation, dryRun in
            Fixture.past(
                [Decision.Action.scaleOut, .scaleIn, .hold][action], at: Fixture.at(-Double(secondsAgo)),
                recommendation: recommendation, dryRun: dryRun
            )
        }
        .array(of: 0...4)
        .map { $0.sorted { $0.time < $1.time } }

    static let scenario = zip(limits, Gen.int(in: 0...25), Gen.int(in: 0...3), feed.array(of: 3), history)
        .map { Scenario(limits: $0, serving: $1, warming: $2, feeds: $3, history: $4) }
}

/// Checks the invariants every decision keeps, whatever its inputs.
func expectWellFormed(
    _ decision: Decision, _ policy: Policy, from: Int, sourceLocation: SourceLocation = #_sourceLocation
) {
    let bounds = policy.capacity.min...policy.capacity.max
    #expect(decision.from == from, sourceLocation: sourceLocation)
    #expect(decision.dryRun == policy.dryRun, sourceLocation: sourceLocation)
    #expect(bounds.contains(decision.recommendation), sourceLocation: sourceLocation)
    switch decision.action {
    case .scaleOut:
        #expect(decision.to > from && decision.to - from <= policy.scaleOut.maxStep, sourceLocation: sourceLocation)
    case .scaleIn:
        #expect(decision.to < from && from - decision.to <= policy.scaleIn.maxStep, sourceLocation: sourceLocation)
    case .hold:
        #expect(decision.to == from, sourceLocation: sourceLocation)
    }
    if bounds.contains(from) {
        #expect(
            bounds.contains(decision.to), "\(from) → \(decision.to) leaves \(bounds)", sourceLocation: sourceLocation)
    } else if from > bounds.upperBound {
        // Never further out; still out only when the step limit stopped short of max.
        #expect(decision.to <= from && decision.to >= bounds.lowerBound, sourceLocation: sourceLocation)
        if decision.action == .scaleIn && decision.to > bounds.upperBound {
            #expect(decision.to == from - policy.scaleIn.maxStep, sourceLocation: sourceLocation)
        }
    } else {
        #expect(decision.to >= from && decision.to <= bounds.upperBound, sourceLocation: sourceLocation)
        if decision.action == .scaleOut && decision.to < bounds.lowerBound {
            #expect(decision.to == from + policy.scaleOut.maxStep, sourceLocation: sourceLocation)
        }
    }
}

@Suite struct DecisionEnginePropertyTests {
    @Test func decisionsStayInBoundsAndWithinOneStep() async {
        await propertyCheck(count: 300, input: Gens.scenario) { scenario in
            expectWellFormed(scenario.decide(), scenario.policy, from: scenario.counts.total)
        }
    }

    @Test func missingVotesMatchTheFeeds() async {
        await propertyCheck(count: 200, input: Gens.scenario) { scenario in
            let decision = scenario.decide()
            let expected = zip(Scenario.checks, scenario.feeds).filter { $0.1.isMissing }.map(\.0.name)
            #expect(decision.missing.map(\.check) == expected)
            #expect(decision.missing.allSatisfy { $0.value == nil && $0.desired == nil })
        }
    }

    @Test func targetValueWithinToleranceNeverActs() async {
        let input = zip(
            Gens.limits, Gen.double(in: 1...1000), Gen.double(in: -0.095...0.095).array(of: 1...6),
            Gen.int(in: 0...20), Gen<Aggregate>.case, Gens.history
        )
        await propertyCheck(count: 300, input: input) { limits, target, deviations, offset, aggregate, history in
            let check = Fixture.target("per-server", .sessionsPerServer, target: target, aggregate: aggregate)
            let policy = limits.policy([check])
            let serving = limits.min + offset % (limits.max - limits.min + 1)
            let samples = Fixture.series(.sessionsPerServer, deviations.map { target * (1 + $0) })
            let decision = Fixture.decide(policy, serving: serving, history: history, samples: samples)
            #expect(decision.vote("per-server")?.kind == .hold)
            #expect(decision.action == .hold)
            #expect(decision.to == serving)
        }
    }

    @Test func missingDataNeverScalesIn() async {
        let input = zip(Gens.scenario, Gens.missingFeed, Gen.int(in: 0...2))
        await propertyCheck(count: 300, input: input) { base, missing, slot in
            var scenario = base
            scenario.feeds[slot] = missing
            let decision = scenario.decide()
            #expect(decision.missing.contains { $0.check == Scenario.checks[slot].name })
            if scenario.counts.total <= scenario.limits.max {
                #expect(decision.action != .scaleIn, "\(decision.reason)")
            }
        }
    }

    @Test func anErrorForSessionsPerServerNeverScalesIn() async {
        // The case the brief singles out: read as zero, this error would scale in toward min.
        let input = zip(Gens.limits, Gen.int(in: 0...20), Gens.history)
        await propertyCheck(count: 200, input: input) { limits, offset, history in
            let policy = limits.policy([Scenario.checks[0]])
            let serving = limits.min + offset % (limits.max - limits.min + 1)
            let decision = Fixture.decide(
                policy, serving: serving, history: history, samples: [Fixture.failure(.sessionsPerServer)])
            #expect(decision.action == .hold)
            #expect(decision.recommendation == serving)
        }
    }

    @Test func noScaleOutWithinTheScaleOutCooldown() async {
        let input = zip(Gens.scenario, Gen.double(in: 0...0.99), Gen.int(in: 1...24))
        await propertyCheck(count: 300, input: input) { base, fraction, cooldownSteps in
            var scenario = base
            scenario.limits.outCooldown = cooldownSteps * 5
            let recent = Fixture.past(.scaleOut, at: Fixture.at(-fraction * Double(cooldownSteps * 5)))
            scenario.history = (scenario.history + [recent]).sorted { $0.time < $1.time }
            #expect(scenario.decide().action != .scaleOut)
        }
    }

    @Test func dryRunDecidesLikeTheLivePolicy() async {
        await propertyCheck(count: 200, input: Gens.scenario) { scenario in
            var live = scenario.policy
            live.dryRun = false
            var dry = live
            dry.dryRun = true
            let (a, b) = (scenario.decide(policy: live), scenario.decide(policy: dry))
            #expect((a.action, a.to, a.recommendation) == (b.action, b.to, b.recommendation))
            #expect(!a.dryRun && b.dryRun)
        }
    }
}

/// Runs the engine every 5 s over a random load, the way the daemon would with instant clones.
@Suite struct SimulatedLoopTests {
    struct Run {
        var decisions: [Decision] = []
        var initial: Int
    }

    static func simulate(_ limits: Limits, start: Int, load: [Double], errors: [Bool]) -> Run {
        let policy = limits.policy([Fixture.target("per-server", .sessionsPerServer, target: 100)])
        var history = DecisionHistory()
        var run = Run(initial: start)
        var serving = start
        for (step, (total, error)) in zip(load, errors).enumerated() {
            let now = Fixture.at(Double(step) * 5)
            let sample =
                error
                ? Fixture.failure(.sessionsPerServer, at: now)
                : Fixture.sample(.sessionsPerServer, total / Double(max(serving, 1)), at: now)
            let decision = Fixture.decide(
                policy, serving: serving, history: history.decisions, samples: [sample], now: now)
            expectWellFormed(decision, policy, from: serving)
            history.record(decision, policy: policy)
            run.decisions.append(decision)
            if !decision.dryRun { serving = decision.to }
        }
        return run
    }

    static let input = zip(
        Gens.limits, Gen.int(in: 0...20), Gen.double(in: 0...2500).array(of: 20...80), Gen.bool(0.1).array(of: 80)
    )

    @Test func cooldownsHoldAcrossTheRun() async {
        await propertyCheck(count: 200, input: Self.input) { limits, offset, load, errors in
            var limits = limits
            limits.dryRun = false
            let start = limits.min + offset % (limits.max - limits.min + 1)
            let run = Self.simulate(limits, start: start, load: load, errors: errors)
            let actions = run.decisions.filter(\.isAction)
            for (earlier, later) in zip(actions, actions.dropFirst()) {
                let gap = later.time.timeIntervalSince(earlier.time)
                if later.action == .scaleIn {
                    #expect(gap >= Double(limits.inCooldown), "scale-in \(gap)s after \(earlier.action)")
                }
            }
            let outs = run.decisions.filter { $0.action == .scaleOut }
            for (earlier, later) in zip(outs, outs.dropFirst()) {
                #expect(later.time.timeIntervalSince(earlier.time) >= Double(limits.outCooldown))
            }
            for (previous, next) in zip(run.decisions, run.decisions.dropFirst()) {
                #expect(next.from == previous.to, "capacity follows the live decisions")
            }
        }
    }

    @Test func dryRunNeverChangesCapacity() async {
        await propertyCheck(count: 200, input: Self.input) { limits, offset, load, errors in
            var limits = limits
            limits.dryRun = true
            let start = limits.min + offset % (limits.max - limits.min + 1)
            let run = Self.simulate(limits, start: start, load: load, errors: errors)
            #expect(run.decisions.allSatisfy { $0.from == run.initial && $0.dryRun })
        }
    }

    @Test func errorsNeverScaleInDuringTheRun() async {
        await propertyCheck(count: 200, input: Self.input) { limits, offset, load, errors in
            let start = limits.min + offset % (limits.max - limits.min + 1)
            let run = Self.simulate(limits, start: start, load: load, errors: errors)
            for (decision, error) in zip(run.decisions, errors) where error {
                #expect(decision.action == .hold)
                #expect(!decision.missing.isEmpty)
            }
        }
    }
}
