import FlockCore
import Foundation
import Testing

/// Prometheus text exposition allows `NaN` and `+Inf` as sample values, and a per-server metric is a
/// division that can hit zero servers. The engine must survive such a value and treat it as no data.
/// Each case runs in a child process (an exit test), because a trap would take the test run down.
@Suite struct NonFiniteMetricTests {
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

    @Test func nanThresholdSampleDoesNotFire() {
        // A threshold compares, so NaN already reads as "not crossed" without trapping.
        let check = Fixture.threshold("queue", .queue, .above(10), .add(2))
        let decision = Fixture.decide(Fixture.policy([check]), serving: 4, samples: [Fixture.sample(.queue, .nan)])
        #expect(decision.action == .hold)
        #expect(decision.vote("queue")?.kind != .scaleOut)
    }
}
