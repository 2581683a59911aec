import FlockCore
import Foundation

extension PoolController {
    /// The predictive check, when the policy has a `predictive` block naming one.
    var predictiveCheck: Check? {
        guard let predictive = policy.predictive else { return nil }
        return policy.checks.first { $0.name == predictive.check }
    }

    /// The metrics its demand is built from: the backend total behind the check, and `servers_up`
    /// for a source that only reports the per-server value. Read every tick with the checks' own.
    var demandMetrics: Set<MetricName> {
        guard let check = predictiveCheck else { return [] }
        return [check.metric.perServerBase ?? check.metric, .serversUp]
    }

    /// How far back a forecast reads: a season, the hour whose level it compares, the lead and the
    /// few minutes around the target it takes the median of.
    var demandHorizon: Duration {
        guard let predictive = policy.predictive else { return .zero }
        let lead = predictive.lead(measured: timeToServe, interval: policy.evaluationInterval)
        return predictive.season + lead + .seconds(65 * 60)
    }

    /// Adds fresh samples to the demand history and forgets what no forecast can read any more.
    /// The history is kept apart from `samples`, which only hold the checks' short windows.
    func rememberDemand(_ fresh: [MetricSample], at time: Date) {
        guard let check = predictiveCheck else {
            demand = DemandHistory()
            return
        }
        demand.add(samples: fresh, check: check)
        demand.forget(before: time.addingTimeInterval(-demandHorizon.seconds))
    }

    /// Seeds the demand history from the store's samples (at start-up, or when a policy version
    /// changes the predictive check), so a restart does not cost a season of forecasts.
    /// A store that keeps fewer samples than a forecast reads would make every restart cost up to
    /// a season of abstaining forecasts, silently: say so.
    func seedDemand(at time: Date) throws {
        demand = DemandHistory()
        guard let check = predictiveCheck else { return }
        if store.sampleRetention < demandHorizon {
            event(
                .forecast,
                "the forecast for \(check.name) reads \(demandHorizon.flockText) of samples but store.sample_retention "
                    + "is \(store.sampleRetention.flockText): after a restart it abstains until enough history "
                    + "is back; set store.sample_retention to at least \(demandHorizon.flockText) in flockd.yaml")
        }
        let metrics = demandMetrics
        let stored = try store.samples(pool: pool, since: time.addingTimeInterval(-demandHorizon.seconds))
        rememberDemand(stored.filter { metrics.contains($0.metric) }, at: time)
    }

    /// Records one decision-to-serving time; the p95 of the last ones is the default lead.
    func noteTimeToServe(_ seconds: Double) {
        serveTimes.append(seconds)
        if serveTimes.count > Self.serveTimesKept { serveTimes.removeFirst(serveTimes.count - Self.serveTimesKept) }
    }

    /// The p95 of the recent decision-to-serving times, nil before the first clone served.
    var timeToServe: Duration? {
        guard !serveTimes.isEmpty else { return nil }
        let sorted = serveTimes.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)
        return .seconds(sorted[max(0, index)])
    }

    /// Enough for a p95 that follows the pool as it changes (a new parent, a loaded host).
    static var serveTimesKept: Int { 20 }
}
