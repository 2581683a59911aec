import FlockCore
import Foundation
import Testing

/// Step 3 of the engine: cooldowns, scale-in stabilization, warm-up accounting and dry run.
/// Every test uses one target-value check on sessions_per_server (target 100).
enum Guard {
    static func decide(
        _ value: Double, serving: Int, warming: Int = 0, history: [Decision] = [], policy: Policy = policy()
    ) -> Decision {
        Fixture.decide(
            policy, serving: serving, warming: warming, history: history,
            samples: [Fixture.sample(.sessionsPerServer, value)]
        )
    }

    static func policy(dryRun: Bool = false, stabilization: Duration = .seconds(300)) -> Policy {
        Fixture.policy([Fixture.target()], stabilization: stabilization, dryRun: dryRun)
    }

    /// Asks for 4 → 6.
    static let burst = 150.0
    /// Agrees to 8 → 4.
    static let lull = 50.0
}

@Suite struct CooldownTests {
    @Test(arguments: [(10.0, Decision.Action.hold), (29, .hold), (30, .scaleOut), (31, .scaleOut)])
    func scaleOutWaitsForItsCooldown(secondsAgo: Double, expected: Decision.Action) {
        let history = [Fixture.past(.scaleOut, at: Fixture.at(-secondsAgo), from: 2, to: 4)]
        let decision = Guard.decide(Guard.burst, serving: 4, history: history)
        #expect(decision.action == expected)
        #expect(decision.recommendation == 6)
        if expected == .hold {
            #expect(decision.reason.contains("scale-out cooldown"))
            #expect(decision.to == 4)
        }
    }

    @Test func dryRunScaleOutStartsNoCooldown() {
        let history = [Fixture.past(.scaleOut, at: Fixture.at(-5), from: 2, to: 4, dryRun: true)]
        #expect(Guard.decide(Guard.burst, serving: 4, history: history).action == .scaleOut)
    }

    @Test func scaleInDoesNotDelayScaleOut() {
        let history = [Fixture.past(.scaleIn, at: Fixture.at(-5), from: 5, to: 4)]
        #expect(Guard.decide(Guard.burst, serving: 4, history: history).action == .scaleOut)
    }

    @Test(arguments: [Decision.Action.scaleOut, .scaleIn])
    func scaleInWaitsForItsCooldownAfterAnyAction(previous: Decision.Action) {
        // The earlier decision recommended 1, so stabilization does not stand in the way.
        func decide(secondsAgo: Double) -> Decision {
            let history = [Fixture.past(previous, at: Fixture.at(-secondsAgo), from: 8, to: 8, recommendation: 1)]
            return Guard.decide(Guard.lull, serving: 8, history: history)
        }
        let early = decide(secondsAgo: 60)
        #expect(early.action == .hold)
        #expect(early.reason.contains("scale-in cooldown"))
        #expect(decide(secondsAgo: 119).action == .hold)
        #expect(decide(secondsAgo: 121).action == .scaleIn)
        #expect(decide(secondsAgo: 121).to == 4)
    }

    @Test func dryRunActionsAndHoldsStartNoScaleInCooldown() {
        let history = [
            Fixture.past(.scaleOut, at: Fixture.at(-30), from: 8, to: 9, recommendation: 1, dryRun: true),
            Fixture.past(.hold, at: Fixture.at(-5), from: 8, recommendation: 1),
        ]
        let decision = Guard.decide(Guard.lull, serving: 8, history: history)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 4)
    }
}

@Suite struct StabilizationTests {
    @Test func scaleInGoesOnlyToTheHighestRecentRecommendation() {
        let history = [
            Fixture.past(.hold, at: Fixture.at(-200), from: 8, recommendation: 6),
            Fixture.past(.hold, at: Fixture.at(-100), from: 8, recommendation: 5),
        ]
        let decision = Guard.decide(Guard.lull, serving: 8, history: history)
        #expect(decision.action == .scaleIn)
        #expect(decision.recommendation == 4)
        #expect(decision.to == 6)
        #expect(decision.reason.contains("stabilized at 6"))
    }

    @Test func aRecentRecommendationOfTheCurrentCountHolds() {
        let history = [Fixture.past(.hold, at: Fixture.at(-250), from: 8, recommendation: 8)]
        let decision = Guard.decide(Guard.lull, serving: 8, history: history)
        #expect(decision.action == .hold)
        #expect(decision.reason.contains("stabilization"))
    }

    @Test func recommendationsOlderThanTheWindowAreForgotten() {
        let history = [Fixture.past(.hold, at: Fixture.at(-301), from: 8, recommendation: 8)]
        let decision = Guard.decide(Guard.lull, serving: 8, history: history)
        #expect(decision.action == .scaleIn)
        #expect(decision.to == 4)
    }

    @Test func dryRunRecommendationsStillStabilize() {
        let history = [Fixture.past(.hold, at: Fixture.at(-100), from: 8, recommendation: 7, dryRun: true)]
        #expect(Guard.decide(Guard.lull, serving: 8, history: history).to == 7)
    }

    @Test func stabilizationDoesNotDelayScaleOut() {
        let history = [Fixture.past(.hold, at: Fixture.at(-10), from: 4, recommendation: 2)]
        #expect(Guard.decide(Guard.burst, serving: 4, history: history).to == 6)
    }

    @Test func aRecentHoldKeepsCapacityThroughTheWindow() {
        // Evaluations every 5 s: on target at t0 (recommending 8), then a lull recommending 4.
        // Nothing scales in until the t0 recommendation leaves the 60 s window.
        let policy = Fixture.policy([Fixture.target()], stabilization: .seconds(60))
        var history: [Decision] = []
        for t in stride(from: 0.0, through: 90, by: 5) {
            let value = t == 0 ? 100.0 : 50.0
            let decision = Fixture.decide(
                policy, serving: 8, history: history,
                samples: [Fixture.sample(.sessionsPerServer, value, at: Fixture.at(t))],
                now: Fixture.at(t)
            )
            history.append(decision)
        }
        let firstScaleIn = history.first { $0.action == .scaleIn }
        #expect(history.first?.recommendation == 8)
        #expect(history.dropFirst().allSatisfy { $0.recommendation == 4 })
        #expect(firstScaleIn?.time == Fixture.at(60))
        #expect(firstScaleIn?.to == 4)
    }
}

@Suite struct WarmUpTests {
    @Test func warmingInstancesCountTowardCapacity() {
        let decision = Guard.decide(Guard.burst, serving: 4, warming: 2)
        #expect(decision.from == 6)
        #expect(decision.action == .hold)
        #expect(decision.to == 6)
        #expect(decision.vote("per-server")?.kind == .hold)
        #expect(decision.reason.contains("already asked for"))
    }

    @Test func aBiggerBurstStillScalesOutFromTheWarmingCount() {
        let decision = Guard.decide(200, serving: 4, warming: 2)
        #expect(decision.action == .scaleOut)
        #expect((decision.from, decision.to) == (6, 8))
    }

    @Test func thresholdStepsCountWarmingToo() {
        let queue = Fixture.threshold("queue", .queue, .above(10), .add(2))
        let decision = Fixture.decide(
            Fixture.policy([queue]), serving: 4, warming: 2, samples: [Fixture.sample(.queue, 30)])
        #expect(decision.action == .hold)
        #expect(decision.to == 6)
    }

    @Test func noScaleInWhileAnythingWarms() {
        let decision = Guard.decide(25, serving: 8, warming: 1)
        #expect(decision.action == .hold)
        #expect(decision.to == 9)
        #expect(decision.reason.contains("warm up"))
        #expect(Guard.decide(25, serving: 8, warming: 0).action == .scaleIn)
    }
}

@Suite struct DryRunTests {
    @Test(arguments: [(150.0, 4), (50, 8), (100, 4), (500, 4)])
    func dryRunComputesTheSameDecision(value: Double, serving: Int) {
        let live = Guard.decide(value, serving: serving, policy: Guard.policy())
        let dry = Guard.decide(value, serving: serving, policy: Guard.policy(dryRun: true))
        #expect(dry.dryRun)
        #expect(!live.dryRun)
        #expect(dry.action == live.action)
        #expect((dry.from, dry.to, dry.recommendation) == (live.from, live.to, live.recommendation))
        #expect(dry.votes == live.votes)
        #expect(dry.reason.hasPrefix("[dry run]"))
    }

    @Test func repeatedDryRunScaleOutsAreNeverCooledDown() {
        let policy = Guard.policy(dryRun: true)
        var history: [Decision] = []
        for t in stride(from: 0.0, through: 20, by: 5) {
            let decision = Fixture.decide(
                policy, serving: 4, history: history,
                samples: [Fixture.sample(.sessionsPerServer, 150, at: Fixture.at(t))],
                now: Fixture.at(t)
            )
            history.append(decision)
        }
        #expect(history.map(\.action) == Array(repeating: .scaleOut, count: 5))
    }
}
