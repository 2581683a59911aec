import Foundation

/// Replays recorded backend metrics through a policy, as `flockctl simulate` does.
///
/// The model is deliberately simple and stated in full, so its output can be trusted for what
/// it is: per-server metrics (`sessions_per_server`, `session_rate_per_server`) are the recorded
/// backend totals divided by the simulated serving count; other metrics are replayed as recorded.
/// New instances serve `cloneLatency` after the decision that asked for them; removed ones stop
/// serving at once. The engine runs every `evaluation_interval`, from the first row to the last.
/// Dry run is ignored: a backtest shows what the policy *would* do.
public struct Backtest: Sendable {
    /// Recorded metrics: one row per time, `nil` where a value is missing.
    public struct Series: Sendable {
        public var metrics: [MetricName]
        public var rows: [(time: Double, values: [Double?])]
        public init(metrics: [MetricName], rows: [(time: Double, values: [Double?])]) {
            self.metrics = metrics
            self.rows = rows
        }
    }

    /// One evaluation that changed the desired count.
    public struct Change: Sendable, Hashable {
        public var time: Double
        public var decision: Decision
    }

    public struct Summary: Sendable, Hashable {
        public var scaleOuts = 0
        public var scaleIns = 0
        public var maxServing: Int
        public var minServing: Int
    }

    public var policy: Policy
    public var startCount: Int
    public var cloneLatency: Duration

    public init(policy: Policy, startCount: Int, cloneLatency: Duration) {
        var live = policy
        live.dryRun = false
        self.policy = live
        self.startCount = startCount
        self.cloneLatency = cloneLatency
    }

    /// Runs the replay. `onChange` sees each change as it happens, so long replays stream.
    public func run(_ series: Series, onChange: (Change) -> Void) -> Summary {
        let epoch = Date(timeIntervalSince1970: 0)
        guard let first = series.rows.first?.time, let last = series.rows.last?.time else {
            return Summary(maxServing: startCount, minServing: startCount)
        }
        let interval = policy.evaluationInterval.seconds
        let keep = (policy.checks.map(\.window).max() ?? .zero).seconds + policy.staleAfter.seconds
        let derived = MetricName.allCases.filter { $0.perServerBase.map(series.metrics.contains) ?? false }

        var serving = startCount
        var servingSince: Date?
        var pending: [Double] = []  // times at which warming instances start serving
        var samples: [MetricSample] = []
        var history = DecisionHistory()
        var summary = Summary(maxServing: serving, minServing: serving)
        var nextRow = 0

        func activate(until time: Double) {
            let ready = pending.filter { $0 <= time }
            pending.removeAll { $0 <= time }
            if let latest = ready.max() { servingSince = epoch.addingTimeInterval(latest) }
            serving += ready.count
            summary.maxServing = max(summary.maxServing, serving)
        }

        // Evaluation k runs at first + k × interval; multiplying, not accumulating, keeps times exact.
        var step = 0.0
        var now = first
        while now <= last + 1e-9 {
            while nextRow < series.rows.count, series.rows[nextRow].time <= now + 1e-9 {
                let row = series.rows[nextRow]
                activate(until: row.time)
                let stamp = epoch.addingTimeInterval(row.time)
                var totals: [MetricName: Double?] = [:]
                for (metric, value) in zip(series.metrics, row.values) {
                    totals[metric] = value
                    samples.append(Self.sample(metric, value, at: stamp))
                }
                for metric in derived {
                    let total = totals[metric.perServerBase!] ?? nil
                    samples.append(Self.sample(metric, total.map { $0 / Double(max(serving, 1)) }, at: stamp))
                }
                nextRow += 1
            }
            activate(until: now)
            let cutoff = epoch.addingTimeInterval(now - keep)
            samples.removeAll { $0.time < cutoff }

            let decision = DecisionEngine.decide(
                policy: policy,
                counts: CapacityCounts(serving: serving, warming: pending.count, servingSince: servingSince),
                history: history.decisions, samples: samples, now: epoch.addingTimeInterval(now)
            )
            history.record(decision, policy: policy)
            switch decision.action {
            case .scaleOut:
                summary.scaleOuts += 1
                pending += Array(repeating: now + cloneLatency.seconds, count: decision.to - decision.from)
                onChange(Change(time: now, decision: decision))
            case .scaleIn:
                summary.scaleIns += 1
                serving -= decision.from - decision.to
                servingSince = epoch.addingTimeInterval(now)
                summary.minServing = min(summary.minServing, serving)
                onChange(Change(time: now, decision: decision))
            case .hold:
                break
            }
            step += 1
            now = first + step * interval
        }
        return summary
    }

    private static func sample(_ metric: MetricName, _ value: Double?, at time: Date) -> MetricSample {
        MetricSample(
            metric: metric, time: time, reading: value.map(MetricSample.Reading.value) ?? .error("no value recorded"))
    }
}
