import FlockController
import FlockCore
import FlockStore
import Foundation
import Testing

/// The predictive block inside the controller: its demand history comes from the store at
/// start-up and from the metrics every tick, and the decision scales out ahead of a rise.
@Suite struct ForecastTests {
    static func policy(_ mode: Policy.Predictive.Mode) -> Policy {
        var policy = ControllerHarness.policy()
        policy.capacity = .init(min: 1, max: 10)
        policy.checks = [
            Check(
                name: "rate", metric: .sessionRatePerServer, window: .seconds(4), aggregate: .last,
                rule: .targetValue(.init(target: 100)))
        ]
        policy.predictive = .init(check: "rate", season: .seconds(3600), lead: .seconds(120), mode: mode)
        return policy
    }

    /// One `session_rate` sample a minute for the last 95 minutes: 800/s from 90 s to 30 min into
    /// each hour (counted from now), 200/s otherwise. Now is quiet; two minutes on it is busy.
    static func seasonOfDemand(_ h: ControllerHarness) throws {
        let now = h.clock.now()
        let samples = (0...95).map { minute -> MetricSample in
            let ago = Double(minute) * 60
            let intoHour = (3600 - ago.truncatingRemainder(dividingBy: 3600)).truncatingRemainder(dividingBy: 3600)
            let busy = (90..<1800).contains(intoHour)
            return MetricSample(metric: .sessionRate, time: now.addingTimeInterval(-ago), value: busy ? 800 : 200)
        }
        try h.store.append(samples: samples, pool: "web")
    }

    @Test func aRestartedControllerForecastsFromTheStoreAndScalesOutAhead() async throws {
        let h = try ControllerHarness(policy: Self.policy(.scale))
        try Self.seasonOfDemand(h)
        try await h.controller.recover()
        h.metrics.set(.sessionRate, .value(200), backend: "app")
        let decision = await h.tick(sessionRatePerServer: 100)  // on target right now
        let forecast = try #require(decision.forecast?.value, "\(decision.reason)")
        #expect(forecast == 800, "\(decision.reason)")
        #expect(decision.action == .scaleOut, "\(decision.reason)")
        #expect(decision.reason.contains("forecast session_rate 800 in 2m"), "\(decision.reason)")
        #expect(try h.clones().count == decision.to - 1)
    }

    @Test func withoutHistoryTheForecastAbstainsOnceAndTheChecksDecide() async throws {
        let h = try ControllerHarness(policy: Self.policy(.scale))
        try await h.controller.recover()
        h.metrics.set(.sessionRate, .value(200), backend: "app")
        let first = await h.tick(sessionRatePerServer: 100)
        h.advance(2)
        let second = await h.tick(sessionRatePerServer: 100)
        #expect(first.forecast != nil && first.forecast?.value == nil, "\(first.reason)")
        #expect(first.action == .hold && second.action == .hold)
        let events = try h.store.events(pool: "web", since: nil, limit: 50).filter { $0.event.kind == .forecast }
        #expect(events.count == 1, "\(events.map(\.event.message))")
    }

    @Test func aStoreThatKeepsTooFewSamplesIsReported() async throws {
        var policy = Self.policy(.scale)
        policy.predictive?.season = .seconds(24 * 3600)  // reads 1507m (25h7m); the harness's store keeps 24h
        let h = try ControllerHarness(policy: policy)
        try await h.controller.recover()
        let messages = try h.store.events(pool: "web", since: nil, limit: 50).map(\.event.message)
        #expect(
            messages.contains { $0.contains("store.sample_retention is 24h") && $0.contains("at least 1507m") },
            "\(messages)")
    }

    @Test func forecastOnlyChangesNothing() async throws {
        let h = try ControllerHarness(policy: Self.policy(.forecastOnly))
        try Self.seasonOfDemand(h)
        try await h.controller.recover()
        h.metrics.set(.sessionRate, .value(200), backend: "app")
        let decision = await h.tick(sessionRatePerServer: 100)
        #expect(decision.forecast?.value == 800, "\(decision.reason)")
        #expect(decision.action == .hold, "\(decision.reason)")
        #expect(try h.clones().isEmpty)
    }
}
