import FlockCore
import Foundation
import Testing

/// Prometheus text exposition allows `NaN` and `+Inf` as sample values, and a per-server metric is a
/// division that can hit zero servers. The engine must survive such a value and treat it as no data.
/// Each case runs in a child process (an exit test), because a trap would take the test run down.
@Suite struct NonFiniteMetricTests {
    // Each child exits 0 when the decision is right, 1 when it is wrong; a trap shows as a signal.
    @Test func nanTargetValueSampleIsMissingNotACrash() async {
        await #expect(processExitsWith: .success) {
            let policy = Fixture.policy([Fixture.target()])
            let decision = Fixture.decide(policy, serving: 4, samples: [Fixture.sample(.sessionsPerServer, .nan)])
            exit(decision.vote("per-server")?.kind == .missing && decision.action == .hold ? 0 : 1)
        }
    }

    @Test func infiniteTargetValueSampleIsMissingNotACrash() async {
        await #expect(processExitsWith: .success) {
            let policy = Fixture.policy([Fixture.target()])
            let decision = Fixture.decide(policy, serving: 4, samples: [Fixture.sample(.sessionsPerServer, .infinity)])
            exit(decision.vote("per-server")?.kind == .missing && decision.action == .hold ? 0 : 1)
        }
    }

    @Test func hugeTargetValueSampleDoesNotCrash() async {
        // 4 × 1e300 / 100 does not fit in an Int; the engine should cap at max rather than trap.
        await #expect(processExitsWith: .success) {
            let policy = Fixture.policy([Fixture.target()], max: 20)
            let decision = Fixture.decide(policy, serving: 4, samples: [Fixture.sample(.sessionsPerServer, 1e300)])
            exit(decision.recommendation == 20 ? 0 : 1)
        }
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteThresholdSampleIsMissing(value: Double) {
        let check = Fixture.threshold("queue", .queue, .above(10), .add(2))
        let decision = Fixture.decide(Fixture.policy([check]), serving: 4, samples: [Fixture.sample(.queue, value)])
        #expect(decision.vote("queue")?.kind == .missing)
        #expect(decision.action == .hold)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity])
    func nonFiniteReadingHasNoValue(value: Double) {
        #expect(Fixture.sample(.queue, value).value == nil)
        #expect(Fixture.sample(.queue, 0).value == 0)
    }

    @Test func olderNonFiniteSamplesAreSkippedInTheWindow() {
        let check = Fixture.target("per-server", .sessionsPerServer, target: 100, aggregate: .mean)
        let samples =
            Fixture.series(.sessionsPerServer, [.nan, 150, .infinity, 150], endingAt: Fixture.at(-5))
            + [Fixture.sample(.sessionsPerServer, 150)]
        let decision = Fixture.decide(Fixture.policy([check]), serving: 4, samples: samples)
        #expect(decision.vote("per-server")?.value == 150)
        #expect(decision.to == 6)
    }
}
