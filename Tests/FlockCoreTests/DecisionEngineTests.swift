import FlockCore
import Foundation
import Testing

/// Step 1 and 2 of the engine: how target-value and threshold checks vote, and how votes combine.
@Suite struct TargetValueTests {
    let check = Fixture.target("per-server", .sessionsPerServer, target: 100)

    func decide(_ value: Double, serving: Int, policy: Policy? = nil) -> Decision {
        Fixture.decide(
            policy ?? Fixture.policy([check]), serving: serving, samples: [Fixture.sample(.sessionsPerServer, value)]
        )
    }

    @Test func scalesOutProportionally() {
        let decision = decide(150, serving: 4)
        #expect(decision.action == .scaleOut)
        #expect((decision.from, decision.to, decision.recommendation) == (4, 6, 6))
        #expect(decision.vote("per-server")?.kind == .scaleOut)
        #expect(decision.vote("per-server")?.desired == 6)
        #expect(decision.reason.contains("per-server"))
        #expect(decision.reason.contains("150"))
    }

    @Test func roundsUp() {
        // 3 × 150 / 100 = 4.5 → 5
        #expect(decide(150, serving: 3).to == 5)
        // 7 × 130 / 100 = 9.1 → 10
        #expect(decide(130, serving: 7).to == 10)
    }

    @Test func scalesInProportionally() {
        let decision = decide(50, serving: 8)
        #expect(decision.action == .scaleIn)
        #expect((decision.from, decision.to) == (8, 4))
        #expect(decision.vote("per-server")?.kind == .scaleIn)
        #expect(decision.reason.contains("per-server"))
        #expect(decision.reason.contains("50"))
    }

    @Test(arguments: [91.0, 95, 100, 105, 109])
    func holdsWithinTolerance(value: Double) {
        let decision = decide(value, serving: 4)
        #expect(decision.action == .hold)
        #expect(decision.to == 4)
        #expect(decision.vote("per-server")?.kind == .hold)
        #expect(decision.reason.contains("per-server holds"))
    }

    @Test(arguments: [90.0, 110])
    func holdsExactlyAtTheToleranceBound(value: Double) {
        // |value / target − 1| ≤ tolerance: 10% off a 10% tolerance is still within it.
        let decision = decide(value, serving: 10)
        #expect(decision.vote("per-server")?.kind == .hold)
        #expect(decision.action == .hold)
        #expect(decision.to == 10)
    }

    @Test func desiredIsTheExactCeiling() {
        // ceil(25 × 112 / 100) = ceil(28) = 28, not 29.
        let decision = decide(112, serving: 25, policy: Fixture.policy([check], max: 40))
        #expect(decision.vote("per-server")?.desired == 28)
        #expect(decision.to == 28)
    }

    @Test func customTolerance() {
        let wide = Fixture.target("per-server", .sessionsPerServer, target: 100, tolerance: 0.25)
        #expect(decide(120, serving: 4, policy: Fixture.policy([wide])).action == .hold)
        #expect(decide(130, serving: 4, policy: Fixture.policy([wide])).to == 6)
    }

    @Test func aggregatesTheWindowOnly() {
        // Mean of the last 30 s is (100 + 200) / 2 = 150; the 1000 at t0 − 40 s is outside the window.
        let check = Fixture.target("per-server", .sessionsPerServer, target: 100, aggregate: .mean)
        let samples =
            [Fixture.sample(.sessionsPerServer, 1000, at: Fixture.at(-40))]
            + Fixture.series(.sessionsPerServer, [100, 200])
        let decision = Fixture.decide(Fixture.policy([check]), serving: 4, samples: samples)
        #expect(decision.vote("per-server")?.value == 150)
        #expect(decision.to == 6)
    }
}

@Suite struct ThresholdTests {
    static let queueAbove10 = Fixture.threshold("queue", .queue, .above(10), .add(2))

    @Test func firesOnTheFirstEvaluationWithoutSustain() {
        let decision = Fixture.decide(
            Fixture.policy([Self.queueAbove10]), serving: 4, samples: [Fixture.sample(.queue, 25)])
        #expect(decision.action == .scaleOut)
        #expect((decision.from, decision.to) == (4, 6))
        #expect(decision.vote("queue")?.breachSince == Fixture.t0)
        #expect(decision.reason.contains("queue"))
        #expect(decision.reason.contains("25"))
    }

    @Test(arguments: [
        (Check.Threshold.Action.add(2), 4, 6),
        (.addPercent(50), 3, 5),
        (.addPercent(10), 10, 11),
        (.addPercent(1), 1, 2),
        (.remove(2), 6, 4),
        (.removePercent(50), 5, 2),
        (.removePercent(1), 4, 3),
    ])
    func actionSteps(action: Check.Threshold.Action, serving: Int, expected: Int) {
        #expect(action.desired(from: serving) == expected)
    }

    @Test func addPercentIsRoundedUpInADecision() {
        let check = Fixture.threshold("queue", .queue, .above(10), .addPercent(50))
        let decision = Fixture.decide(Fixture.policy([check]), serving: 3, samples: [Fixture.sample(.queue, 25)])
        #expect(decision.to == 5)
    }

    @Test func removeScalesIn() {
        let check = Fixture.threshold("fast", .responseTimeMs, .below(50), .remove(2))
        let decision = Fixture.decide(
            Fixture.policy([check]), serving: 6, samples: [Fixture.sample(.responseTimeMs, 12)])
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 4)
        #expect(decision.reason.contains("fast"))
        #expect(decision.reason.contains("12"))
    }

    @Test func boundItselfIsNotCrossed() {
        let decision = Fixture.decide(
            Fixture.policy([Self.queueAbove10]), serving: 4, samples: [Fixture.sample(.queue, 10)])
        #expect(decision.vote("queue")?.kind == .abstain)
    }

    @Test func uncrossedThresholdAbstains() {
        let decision = Fixture.decide(
            Fixture.policy([Self.queueAbove10]), serving: 4, samples: [Fixture.sample(.queue, 3)])
        #expect(decision.action == .hold)
        #expect(decision.vote("queue")?.kind == .abstain)
        #expect(decision.vote("queue")?.desired == nil)
        #expect(decision.vote("queue")?.breachSince == nil)
        #expect(decision.reason.contains("no check crossed"))
    }

    @Test func abstainDoesNotVetoScaleIn() {
        let policy = Fixture.policy([Fixture.target(), Self.queueAbove10])
        let samples = [Fixture.sample(.sessionsPerServer, 50), Fixture.sample(.queue, 3)]
        let decision = Fixture.decide(policy, serving: 8, samples: samples)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 4)
    }

    /// Runs the engine every 5 s at `times` (seconds after t0) with the queue at `queue(t)`, serving fixed.
    static func run(_ policy: Policy, serving: Int = 4, times: [Double], queue: (Double) -> Double) -> [Decision] {
        var history: [Decision] = []
        for t in times {
            let decision = Fixture.decide(
                policy, serving: serving, history: history,
                samples: [Fixture.sample(.queue, queue(t), at: Fixture.at(t))],
                now: Fixture.at(t)
            )
            history.append(decision)
        }
        return history
    }

    @Test func firesOnlyAfterTheBoundHeldForSustain() {
        let check = Fixture.threshold("queue", .queue, .above(10), for: .seconds(20), .add(2))
        let decisions = Self.run(Fixture.policy([check]), times: [0, 5, 10, 15, 20]) { _ in 25 }
        #expect(decisions.map(\.action) == [.hold, .hold, .hold, .hold, .scaleOut])
        #expect(decisions.allSatisfy { $0.vote("queue")?.breachSince == Fixture.t0 })
        #expect(decisions.last?.to == 6)
        #expect(decisions.last?.reason.contains("for 20s") == true)
    }

    @Test func pendingAddHoldsAndVetoesScaleIn() {
        let pending = Fixture.threshold("queue", .queue, .above(10), for: .seconds(60), .add(1))
        let policy = Fixture.policy([Fixture.target(), pending])
        let samples = [Fixture.sample(.sessionsPerServer, 50), Fixture.sample(.queue, 20)]
        let decision = Fixture.decide(policy, serving: 8, samples: samples)
        #expect(decision.vote("queue")?.kind == .hold)
        #expect(decision.vote("per-server")?.kind == .scaleIn)
        #expect(decision.action == .hold)
        #expect(decision.to == 8)
    }

    @Test func pendingRemoveAbstains() {
        let pending = Fixture.threshold("fast", .responseTimeMs, .below(50), for: .seconds(60), .remove(1))
        let policy = Fixture.policy([Fixture.target(), pending])
        let samples = [Fixture.sample(.sessionsPerServer, 50), Fixture.sample(.responseTimeMs, 10)]
        let decision = Fixture.decide(policy, serving: 8, samples: samples)
        #expect(decision.vote("fast")?.kind == .abstain)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 4)
    }

    @Test(arguments: [(10.0, Decision.Action.scaleOut), (11, .hold)])
    func streakContinuesOnlyFromARecentDecision(previousAge: Double, expected: Decision.Action) {
        let check = Fixture.threshold("queue", .queue, .above(10), for: .seconds(60), .add(1))
        let earlierVote = CheckVote(
            check: "queue", metric: .queue, value: 20, kind: .hold, desired: nil, breachSince: Fixture.at(-100),
            detail: "pending"
        )
        let previous = Fixture.past(.hold, at: Fixture.at(-previousAge), votes: [earlierVote])
        let decision = Fixture.decide(
            Fixture.policy([check]), serving: 4, history: [previous], samples: [Fixture.sample(.queue, 20)])
        #expect(decision.action == expected)
        let since = decision.vote("queue")?.breachSince
        #expect(since == (expected == .hold ? Fixture.t0 : Fixture.at(-100)))
    }

    @Test func streakRestartsWhenTheBoundIsNoLongerCrossed() {
        let check = Fixture.threshold("queue", .queue, .above(10), for: .seconds(10), .add(1))
        let times: [Double] = [0, 5, 10, 15, 20, 25]
        let decisions = Self.run(Fixture.policy([check]), times: times) { $0 == 10 ? 2 : 25 }
        #expect(decisions.map(\.action) == [.hold, .hold, .hold, .hold, .hold, .scaleOut])
        #expect(decisions[2].vote("queue")?.kind == .abstain)
        #expect(decisions[3].vote("queue")?.breachSince == Fixture.at(15))
        #expect(decisions[5].vote("queue")?.breachSince == Fixture.at(15))
    }
}

@Suite struct CombiningTests {
    static let perServer = Fixture.target("per-server", .sessionsPerServer, target: 100)
    static let rt = Fixture.target("rt", .responseTimeMs, target: 100)

    static func decide(_ policy: Policy, serving: Int, perServer: Double, rt: Double) -> Decision {
        Fixture.decide(
            policy, serving: serving,
            samples: [Fixture.sample(.sessionsPerServer, perServer), Fixture.sample(.responseTimeMs, rt)]
        )
    }

    @Test func anyScaleOutWinsAndTheLargestCountIsTaken() {
        let queue = Fixture.threshold("queue", .queue, .above(10), .add(1))
        let policy = Fixture.policy([Self.rt, queue, Self.perServer])
        let samples = [
            Fixture.sample(.sessionsPerServer, 200), Fixture.sample(.responseTimeMs, 20), Fixture.sample(.queue, 30),
        ]
        let decision = Fixture.decide(policy, serving: 4, samples: samples)
        #expect(decision.vote("rt")?.kind == .scaleIn)
        #expect(decision.action == .scaleOut)
        #expect(decision.to == 8)
        #expect(decision.reason.contains("per-server wants 8"))
    }

    @Test func oneHoldVetoesScaleIn() {
        let decision = Self.decide(Fixture.policy([Self.perServer, Self.rt]), serving: 8, perServer: 50, rt: 100)
        #expect(decision.action == .hold)
        #expect(decision.to == 8)
        #expect(decision.reason.contains("rt holds"))
    }

    @Test func scaleInTakesTheLargestCount() {
        let decision = Self.decide(Fixture.policy([Self.perServer, Self.rt]), serving: 8, perServer: 50, rt: 75)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 6)
        #expect(decision.reason.contains("per-server"))
        #expect(decision.reason.contains("rt"))
        #expect(decision.reason.contains("75"))
    }

    @Test func clampsToMax() {
        let decision = Self.decide(Fixture.policy([Self.perServer], max: 10), serving: 4, perServer: 500, rt: 0)
        #expect(decision.to == 10)
        #expect(decision.recommendation == 10)
        #expect(decision.reason.contains("capped at max 10"))
    }

    @Test func clampsToMin() {
        let decision = Self.decide(Fixture.policy([Self.perServer], min: 3), serving: 8, perServer: 10, rt: 0)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 3)
        #expect(decision.recommendation == 3)
        #expect(decision.reason.contains("raised to min 3"))
    }

    @Test func aboveMaxIsBroughtBackEvenWithoutVotes() {
        let idle = Fixture.threshold("queue", .queue, .above(10), .add(1))
        let decision = Fixture.decide(
            Fixture.policy([idle], max: 10, inStep: 1), serving: 12, samples: [Fixture.sample(.queue, 0)])
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 11)
    }

    @Test func belowMinIsRaisedEvenWithoutVotes() {
        let idle = Fixture.threshold("queue", .queue, .above(10), .add(1))
        let decision = Fixture.decide(Fixture.policy([idle], min: 2), serving: 1, samples: [Fixture.sample(.queue, 0)])
        #expect(decision.action == .scaleOut)
        #expect(decision.to == 2)
    }

    @Test func scaleOutIsLimitedToItsMaxStep() {
        let decision = Self.decide(Fixture.policy([Self.perServer], outStep: 3), serving: 4, perServer: 300, rt: 0)
        #expect(decision.recommendation == 12)
        #expect(decision.to == 7)
        #expect(decision.reason.contains("max_step 3"))
    }

    @Test func scaleInIsLimitedToItsMaxStep() {
        let decision = Self.decide(Fixture.policy([Self.perServer], inStep: 2), serving: 8, perServer: 25, rt: 0)
        #expect(decision.recommendation == 2)
        #expect(decision.to == 6)
        #expect(decision.reason.contains("max_step 2"))
    }

    @Test func decisionCarriesPoolTimeAndEveryVote() {
        let decision = Self.decide(Fixture.policy([Self.perServer, Self.rt]), serving: 4, perServer: 100, rt: 100)
        #expect(decision.pool == "web")
        #expect(decision.time == Fixture.t0)
        #expect(decision.votes.map(\.check) == ["per-server", "rt"])
        #expect(!decision.dryRun)
        #expect(!decision.isAction)
    }
}
