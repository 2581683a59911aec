import FlockCore
import Foundation
import Testing

/// The predictive block in the engine, on synthetic seasonal demand with a one-hour season.
@Suite struct PredictiveEngineTests {
    static let season = 3600.0
    static let check = Fixture.target("rate", .sessionRatePerServer, target: 100)

    /// A quiet first half of each season (200/s), a busy second half (800/s), `scale` times as busy
    /// in the second season; one `session_rate` sample a minute from `t0` up to `end` seconds.
    static func demand(until end: Double, scale: Double = 1) -> [MetricSample] {
        stride(from: 0.0, through: end, by: 60).map { t in
            let phase = t.truncatingRemainder(dividingBy: season)
            let level = (phase < season / 2 ? 200.0 : 800.0) * (t >= season ? scale : 1)
            return Fixture.sample(.sessionRate, level, at: Fixture.at(t))
        }
    }

    static func policy(_ mode: Policy.Predictive.Mode, lead: Duration? = .seconds(120)) -> Policy {
        var policy = Fixture.policy([check], min: 2, max: 20)
        policy.predictive = .init(check: "rate", season: .seconds(3600), lead: lead, mode: mode)
        return policy
    }

    /// The engine at `now`, with the check seeing `perServer` at `serving` instances.
    static func decide(
        _ policy: Policy, now: Double, serving: Int, perServer: Double, history: [Decision] = [],
        demand samples: [MetricSample]
    ) -> Decision {
        let current = Fixture.sample(.sessionRatePerServer, perServer, at: Fixture.at(now))
        return DecisionEngine.decide(
            policy: policy, counts: CapacityCounts(serving: serving), history: history, samples: samples + [current],
            now: Fixture.at(now))
    }

    @Test func scaleModeRaisesTheFloorAheadOfAPredictedRise() throws {
        // One minute before the second season's rise: the check is on target, the forecast is not.
        let now = Self.season + Self.season / 2 - 60
        let decision = Self.decide(
            Self.policy(.scale), now: now, serving: 2, perServer: 100, demand: Self.demand(until: now))
        #expect(decision.action == .scaleOut)
        #expect(decision.to == 8)
        #expect(decision.forecast?.value == 800)
        #expect(decision.reason.contains("the forecast for rate wants 8"), "\(decision.reason)")
        #expect(decision.reason.contains("forecast session_rate 800 in 2m → wants 8"), "\(decision.reason)")
        #expect(decision.events.map(\.kind) == [.decision])
    }

    @Test func forecastOnlyReportsAndChangesNothing() {
        let now = Self.season + Self.season / 2 - 60
        let decision = Self.decide(
            Self.policy(.forecastOnly), now: now, serving: 2, perServer: 100, demand: Self.demand(until: now))
        #expect(decision.action == .hold)
        #expect(decision.recommendation == 2)
        #expect(
            decision.reason.contains("forecast session_rate 800 in 2m → would want 8 (forecast_only)"),
            "\(decision.reason)")
    }

    @Test func aForecastNeverScalesIn() {
        // The busy half is ending: the forecast (200/s → 2) is far below what the check wants.
        let now = 2 * Self.season - 60
        let policy = Self.policy(.scale)
        let demand = Self.demand(until: now)
        let holding = Self.decide(policy, now: now, serving: 8, perServer: 100, demand: demand)
        #expect(holding.forecast?.wants == 2)
        #expect(holding.action == .hold && holding.recommendation == 8, "\(holding.reason)")

        // A season 1.5 times as busy: the check wants 4, the forecast (450/s) wants 5, and the
        // forecast only takes away from the scale-in.
        let partial = Self.decide(
            policy, now: now, serving: 8, perServer: 50, demand: Self.demand(until: now, scale: 1.5))
        #expect(partial.forecast?.wants == 5, "\(partial.reason)")
        #expect(partial.action == .scaleIn && partial.to == 5, "\(partial.reason)")
    }

    @Test func withLessThanOneSeasonTheForecastAbstainsAndSaysSoOnce() throws {
        let policy = Self.policy(.scale)
        let now = Self.season / 2
        let first = Self.decide(policy, now: now, serving: 2, perServer: 100, demand: Self.demand(until: now))
        #expect(first.action == .hold)
        let note = try #require(first.forecast)
        #expect(note.value == nil)
        #expect(note.abstained == "0.5h of history, less than one season (1h)")
        #expect(first.reason.contains("forecast of session_rate abstains: 0.5h of history"), "\(first.reason)")
        #expect(first.events.filter { $0.kind == .forecast }.count == 1)

        let next = Self.decide(
            policy, now: now + 5, serving: 2, perServer: 100, history: [first], demand: Self.demand(until: now + 5))
        #expect(next.forecast?.abstained != nil)
        #expect(next.events.filter { $0.kind == .forecast }.isEmpty)
    }

    @Test func theDefaultLeadIsTheTimeToServePlusAnInterval() {
        let now = Self.season + Self.season / 2 - 60
        let samples = Self.demand(until: now) + [Fixture.sample(.sessionRatePerServer, 100, at: Fixture.at(now))]
        let decision = DecisionEngine.decide(
            policy: Self.policy(.forecastOnly, lead: nil), counts: CapacityCounts(serving: 2), history: [],
            samples: samples, now: Fixture.at(now), timeToServe: .seconds(2))
        #expect(decision.forecast?.leadSeconds == 7)
        // Seven seconds ahead is still the quiet half a season ago.
        #expect(decision.forecast?.value == 200, "\(decision.reason)")
    }
}

/// The forecast model alone: the recent level, gaps, and where the demand comes from.
@Suite struct DemandForecastTests {
    @Test func aBusierSeasonScalesTheForecast() throws {
        let now = Fixture.at(PredictiveEngineTests.season + 1740)
        let history = DemandHistory(
            samples: PredictiveEngineTests.demand(until: 5340, scale: 1.25), check: PredictiveEngineTests.check)
        guard
            case .value(let v) = DemandForecast.forecast(history, season: .seconds(3600), lead: .seconds(120), now: now)
        else {
            Issue.record("expected a forecast")
            return
        }
        #expect(abs(v - 1000) < 1e-9)
    }

    @Test func gapsAreSkippedNotReadAsZero() throws {
        // Every third minute missing: the level compares only minutes present in both seasons.
        let samples = PredictiveEngineTests.demand(until: 5340).enumerated().filter { $0.offset % 3 != 0 }.map(
            \.element)
        let history = DemandHistory(samples: samples, check: PredictiveEngineTests.check)
        let outcome = DemandForecast.forecast(
            history, season: .seconds(3600), lead: .seconds(120), now: Fixture.at(5340))
        #expect(outcome == .value(800))
    }

    @Test func withoutTotalsTheDemandIsPerServerTimesServersUp() throws {
        let perServer = PredictiveEngineTests.demand(until: 5340).flatMap { s in
            [
                Fixture.sample(.sessionRatePerServer, (s.value ?? 0) / 4, at: s.time),
                Fixture.sample(.serversUp, 4, at: s.time),
            ]
        }
        let history = DemandHistory(samples: perServer, check: PredictiveEngineTests.check)
        let outcome = DemandForecast.forecast(
            history, season: .seconds(3600), lead: .seconds(120), now: Fixture.at(5340))
        #expect(outcome == .value(800))
    }

    @Test func anHourWithoutOverlapAbstains() {
        // A season of history, but the last hour has no samples to compare with a season earlier.
        let samples = PredictiveEngineTests.demand(until: 5340).filter { $0.time < Fixture.at(3000) }
        let history = DemandHistory(samples: samples, check: PredictiveEngineTests.check)
        let outcome = DemandForecast.forecast(
            history, season: .seconds(3600), lead: .seconds(120), now: Fixture.at(5340))
        #expect(outcome == .abstains("only 0 minutes of the last hour can be compared with a season ago"))
    }
}
