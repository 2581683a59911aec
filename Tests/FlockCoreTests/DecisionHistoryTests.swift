import FlockCore
import Foundation
import Testing

@Suite struct DecisionHistoryTests {
    /// Stabilization 300 s is the longest horizon unless a test raises another duration.
    static func policy(outCooldown: Duration = .seconds(30), interval: Duration = .seconds(5)) -> Policy {
        Fixture.policy([Fixture.target()], interval: interval, outCooldown: outCooldown)
    }

    static func record(_ times: [Double], policy: Policy) -> DecisionHistory {
        var history = DecisionHistory()
        for t in times { history.record(Fixture.past(.hold, at: Fixture.at(t)), policy: policy) }
        return history
    }

    @Test func keepsDecisionsWithinTheHorizonAndDropsOlderOnes() {
        let history = Self.record([0, 1, 150, 301], policy: Self.policy())
        #expect(history.decisions.map(\.time) == [Fixture.at(1), Fixture.at(150), Fixture.at(301)])
    }

    @Test func keepsEverythingWhileYoung() {
        let history = Self.record([0, 5, 10, 300], policy: Self.policy())
        #expect(history.decisions.count == 4)
    }

    @Test func horizonIsTheLongestOfTheDurations() {
        let longCooldown = Self.record([0, 301], policy: Self.policy(outCooldown: .seconds(600)))
        #expect(longCooldown.decisions.count == 2)
        let later = Self.record([0, 301, 601], policy: Self.policy(outCooldown: .seconds(600)))
        #expect(later.decisions.map(\.time) == [Fixture.at(301), Fixture.at(601)])

        // A 400 s evaluation interval makes samples (and threshold streaks) stale only after 800 s.
        let slow = Self.record([0, 799], policy: Self.policy(interval: .seconds(400)))
        #expect(slow.decisions.count == 2)
    }

    @Test func initSortsByTime() {
        let history = DecisionHistory([
            Fixture.past(.hold, at: Fixture.at(10)), Fixture.past(.scaleOut, at: Fixture.at(0)),
            Fixture.past(.hold, at: Fixture.at(5)),
        ])
        #expect(history.decisions.map(\.time) == [Fixture.at(0), Fixture.at(5), Fixture.at(10)])
    }

    @Test func prunedHistoryDecidesLikeTheFullOne() {
        // The engine must reach the same decision from the pruned history as from all of it.
        let policy = Self.policy()
        var pruned = DecisionHistory()
        var full: [Decision] = []
        for t in stride(from: 0.0, through: 900, by: 5) {
            let value = t.truncatingRemainder(dividingBy: 200) < 40 ? 180.0 : 40
            let samples = [Fixture.sample(.sessionsPerServer, value, at: Fixture.at(t))]
            let fromPruned = Fixture.decide(
                policy, serving: 6, history: pruned.decisions, samples: samples, now: Fixture.at(t))
            let fromFull = Fixture.decide(policy, serving: 6, history: full, samples: samples, now: Fixture.at(t))
            #expect(fromPruned == fromFull, "at t0+\(t)")
            pruned.record(fromPruned, policy: policy)
            full.append(fromFull)
        }
        #expect(pruned.decisions.count < full.count)
        #expect(pruned.decisions.count == 61)
    }
}
