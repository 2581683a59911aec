import FlockCore
import Foundation
import Testing

/// Per-server samples taken before the serving count changed were divided by another count:
/// the engine leaves them out, and waits (holds) when nothing newer is left.
@Suite struct ServingSinceTests {
    static let perServerMean = Fixture.target("per-server", .sessionsPerServer, target: 100, aggregate: .mean)
    /// 300 per server at t0 − 10 (before a scale-out), 100 per server at t0 − 5 and t0 (after it).
    static let samples = Fixture.series(.sessionsPerServer, [300, 100, 100])

    @Test func samplesBeforeTheChangeAreLeftOut() {
        let policy = Fixture.policy([Self.perServerMean])
        let after = Fixture.decide(policy, serving: 6, servingSince: Fixture.at(-5), samples: Self.samples)
        #expect(after.vote("per-server")?.value == 100)
        #expect(after.action == .hold)
        // Without the change time, the stale 300 drags the mean to 166.67 and scales out again.
        let unaware = Fixture.decide(policy, serving: 6, samples: Self.samples)
        #expect(unaware.action == .scaleOut)
    }

    @Test func aSampleAtTheChangeItselfCounts() {
        let policy = Fixture.policy([Self.perServerMean])
        let decision = Fixture.decide(policy, serving: 6, servingSince: Fixture.at(-10), samples: Self.samples)
        #expect(decision.vote("per-server")?.value.map { ($0 * 100).rounded() / 100 } == 166.67)
    }

    @Test func onlyOlderSamplesHoldsRatherThanGuessOrMiss() {
        let policy = Fixture.policy([Self.perServerMean])
        let decision = Fixture.decide(
            policy, serving: 8, servingSince: Fixture.at(-2),
            samples: Fixture.series(.sessionsPerServer, [20, 20], endingAt: Fixture.at(-5)))
        #expect(decision.vote("per-server")?.kind == .hold)
        #expect(decision.missing.isEmpty)
        #expect(decision.action == .hold)
        #expect(decision.reason.contains("waiting"))
    }

    @Test func backendTotalsAreNotFiltered() {
        let queue = Fixture.threshold("queue", .queue, .above(10), .add(2), aggregate: .max)
        let samples = [Fixture.sample(.queue, 30, at: Fixture.at(-10)), Fixture.sample(.queue, 5)]
        let decision = Fixture.decide(
            Fixture.policy([queue]), serving: 4, servingSince: Fixture.at(-5), samples: samples)
        #expect(decision.vote("queue")?.value == 30)
        #expect(decision.action == .scaleOut)
    }
}
