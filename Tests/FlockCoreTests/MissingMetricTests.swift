import FlockCore
import Foundation
import Testing

/// Missing, stale and unreadable metrics: they vote `.missing`, never read as zero and never scale in.
@Suite struct MissingMetricTests {
    static let perServer = Fixture.target("per-server", .sessionsPerServer, target: 100)
    static let queue = Fixture.threshold("queue", .queue, .above(10), .add(2))

    static func decide(
        _ samples: [MetricSample], serving: Int = 6, checks: [Check] = [perServer], min: Int = 2, max: Int = 20
    ) -> Decision {
        Fixture.decide(Fixture.policy(checks, min: min, max: max), serving: serving, samples: samples)
    }

    static func expectMissing(_ decision: Decision, _ check: String, sourceLocation: SourceLocation = #_sourceLocation)
    {
        #expect(decision.vote(check)?.kind == .missing, sourceLocation: sourceLocation)
        #expect(decision.vote(check)?.value == nil, sourceLocation: sourceLocation)
        #expect(decision.missing.map(\.check).contains(check), sourceLocation: sourceLocation)
        #expect(decision.action == .hold, sourceLocation: sourceLocation)
        #expect(decision.to == decision.from, sourceLocation: sourceLocation)
    }

    @Test func noSamplesIsMissing() {
        let decision = Self.decide([])
        Self.expectMissing(decision, "per-server")
        #expect(decision.reason.contains("holding on missing data"))
        #expect(decision.reason.contains("per-server"))
        #expect(decision.reason.contains("sessions_per_server"))
    }

    @Test func errorSampleIsMissingNotZero() {
        // Read as zero, this would ask for ceil(6 × 0 / 100) = 0 and scale in toward min.
        let decision = Self.decide([Fixture.failure(.sessionsPerServer)])
        Self.expectMissing(decision, "per-server")
        #expect(decision.recommendation == 6)
        #expect(decision.reason.contains("unreadable"))
    }

    @Test func newestErrorWinsOverEarlierValuesInTheWindow() {
        let samples =
            Fixture.series(.sessionsPerServer, [50, 50], endingAt: Fixture.at(-5))
            + [Fixture.failure(.sessionsPerServer)]
        Self.expectMissing(Self.decide(samples), "per-server")
    }

    @Test func aValueAfterAnErrorIsUsed() {
        let samples = [
            Fixture.failure(.sessionsPerServer, at: Fixture.at(-5)), Fixture.sample(.sessionsPerServer, 150),
        ]
        let decision = Self.decide(samples, serving: 4)
        #expect(decision.missing.isEmpty)
        #expect(decision.to == 6)
    }

    @Test(arguments: [(10.0, false), (11, true), (60, true)])
    func staleAfterTwoEvaluationIntervals(age: Double, missing: Bool) {
        let decision = Self.decide([Fixture.sample(.sessionsPerServer, 50, at: Fixture.at(-age))], serving: 8)
        #expect((decision.vote("per-server")?.kind == .missing) == missing)
        #expect(decision.action == (missing ? .hold : .scaleIn))
        if missing { #expect(decision.reason.contains("stale")) }
    }

    @Test func staleLimitFollowsTheEvaluationInterval() {
        let policy = Fixture.policy([Self.perServer], interval: .seconds(30))
        let decision = Fixture.decide(
            policy, serving: 4, samples: [Fixture.sample(.sessionsPerServer, 150, at: Fixture.at(-25))])
        #expect(decision.missing.isEmpty)
        #expect(decision.to == 6)
    }

    @Test func samplesAfterNowAreIgnored() {
        let onlyFuture = Self.decide([Fixture.sample(.sessionsPerServer, 50, at: Fixture.at(5))], serving: 8)
        Self.expectMissing(onlyFuture, "per-server")
        let samples = [
            Fixture.sample(.sessionsPerServer, 150), Fixture.sample(.sessionsPerServer, 500, at: Fixture.at(5)),
        ]
        #expect(Self.decide(samples, serving: 4).to == 6)
    }

    @Test func freshSampleOutsideAShortWindowIsMissing() {
        let check = Fixture.target("per-server", .sessionsPerServer, target: 100, window: .seconds(5))
        let decision = Self.decide(
            [Fixture.sample(.sessionsPerServer, 50, at: Fixture.at(-8))], serving: 8, checks: [check])
        Self.expectMissing(decision, "per-server")
    }

    @Test func missingVetoesAnotherChecksScaleIn() {
        let fast = Fixture.threshold("fast", .responseTimeMs, .below(50), .remove(2))
        let samples = [Fixture.failure(.sessionsPerServer), Fixture.sample(.responseTimeMs, 5)]
        let decision = Self.decide(samples, serving: 6, checks: [Self.perServer, fast])
        #expect(decision.vote("fast")?.kind == .scaleIn)
        Self.expectMissing(decision, "per-server")
    }

    @Test func missingDoesNotBlockScaleOut() {
        let samples = [Fixture.failure(.sessionsPerServer), Fixture.sample(.queue, 30)]
        let decision = Self.decide(samples, serving: 4, checks: [Self.perServer, Self.queue])
        #expect(decision.action == .scaleOut)
        #expect(decision.to == 6)
        #expect(decision.missing.map(\.check) == ["per-server"])
    }

    @Test func everyMissingCheckIsListed() {
        let decision = Self.decide([], checks: [Self.perServer, Self.queue])
        #expect(decision.missing.map(\.check) == ["per-server", "queue"])
        #expect(decision.missing.map(\.metric) == [.sessionsPerServer, .queue])
    }

    @Test func missingMetricBreaksAThresholdStreak() {
        let check = Fixture.threshold("queue", .queue, .above(10), for: .seconds(10), .add(1))
        let policy = Fixture.policy([check])
        var history: [Decision] = []
        let readings: [(Double, Double?)] = [(0, 30), (5, nil), (10, 30), (15, 30), (20, 30)]
        for (t, reading) in readings {
            let sample =
                reading.map { Fixture.sample(.queue, $0, at: Fixture.at(t)) }
                ?? Fixture.failure(.queue, at: Fixture.at(t))
            history.append(Fixture.decide(policy, serving: 4, history: history, samples: [sample], now: Fixture.at(t)))
        }
        #expect(history.map(\.action) == [.hold, .hold, .hold, .hold, .scaleOut])
        #expect(history[4].vote("queue")?.breachSince == Fixture.at(10))
    }

    @Test func eachMissingCheckBecomesAnEvent() {
        let samples = [Fixture.failure(.sessionsPerServer), Fixture.sample(.queue, 30)]
        let decision = Self.decide(samples, serving: 4, checks: [Self.perServer, Self.queue])
        #expect(decision.events.map(\.kind) == [.metricMissing, .decision])
        #expect(decision.events.first?.message.contains("per-server") == true)
        #expect(decision.events.last?.message == decision.reason)
        #expect(decision.events.allSatisfy { $0.pool == "web" && $0.time == Fixture.t0 })

        let quiet = Self.decide([Fixture.sample(.sessionsPerServer, 100)], serving: 4)
        #expect(quiet.events.isEmpty, "a hold with full data is not worth an event")
    }
}
