import Foundation

/// Replays recorded backend metrics through a policy, as `flockctl simulate` does.
///
/// The model is deliberately simple and stated in full, so its output can be trusted for what
/// it is: per-server metrics (`sessions_per_server`, `session_rate_per_server`) are the recorded
/// backend totals divided by the simulated serving count; other metrics are replayed as recorded.
/// New instances serve `cloneLatency` after the decision that asked for them; removed ones stop
/// serving at once. The engine runs every `evaluation_interval`, from the first row to the last.
/// Dry run is ignored: a backtest shows what the policy *would* do. The predictive forecast reads
/// a season of the replayed demand, and its default lead uses `cloneLatency` as the time to serve.
///
/// Each whole second from `scoreFrom` on is scored against the scored check (the predictive
/// block's, else the first target-value check): it is *under-provisioned* when the recorded demand
/// (the latest row's backend total, divided by the serving count for a per-server metric) is above
/// the check's target by more than its tolerance, the same band inside which the check holds.
/// Instance-seconds add up serving plus warming instances, second by second.
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
        /// Scored seconds during which the serving instances were short of the scored check's target band.
        public var underProvisionedSeconds = 0
        /// Serving plus warming instances, summed over the scored seconds.
        public var instanceSeconds = 0
    }

    public var policy: Policy
    public var startCount: Int
    public var cloneLatency: Duration
    /// Seconds into the trace before which nothing is scored (e.g. one season, while a forecast learns).
    public var scoreFrom: Duration
    /// The target-value check the seconds are scored against, if the policy has one.
    public var scored: Check?

    /// - Parameter scoring: the check to score against, by name; by default the predictive block's
    ///   check, else the policy's first target-value check.
    public init(
        policy: Policy, startCount: Int, cloneLatency: Duration, scoreFrom: Duration = .zero, scoring: String? = nil
    ) {
        var live = policy
        live.dryRun = false
        self.policy = live
        self.startCount = startCount
        self.cloneLatency = cloneLatency
        self.scoreFrom = scoreFrom
        let targets = policy.checks.filter { $0.targetValue != nil }
        let name = scoring ?? policy.predictive?.check
        self.scored = targets.first { $0.name == name } ?? (name == nil ? targets.first : nil)
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

        let predictive = policy.predictive.flatMap { p in policy.checks.first { $0.name == p.check } }
        var demand = DemandHistory()
        let demandColumn = predictive.flatMap { series.metrics.firstIndex(of: $0.metric.perServerBase ?? $0.metric) }
        // A forecast reads back one season and the hour before it; two hours leave room for the lead.
        let demandKeep = (policy.predictive?.season ?? .zero).seconds + 7200

        var score = Score(backtest: self, series: series, first: first)

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
            score.count(until: now, serving: serving, pending: pending, into: &summary)
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
                if let demandColumn, let value = row.values[demandColumn] {
                    demand.add(value, at: stamp)
                    demand.forget(before: stamp.addingTimeInterval(-demandKeep))
                }
                nextRow += 1
            }
            activate(until: now)
            let cutoff = epoch.addingTimeInterval(now - keep)
            samples.removeAll { $0.time < cutoff }

            let decision = DecisionEngine.decide(
                policy: policy,
                counts: CapacityCounts(serving: serving, warming: pending.count, servingSince: servingSince),
                history: history.decisions, samples: samples, now: epoch.addingTimeInterval(now),
                demand: predictive == nil ? nil : demand, timeToServe: cloneLatency
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
        score.count(until: last + 1, serving: serving, pending: pending, into: &summary)
        return summary
    }

    /// Scores whole seconds as the replay passes them, with the pool as the last evaluation left it.
    private struct Score {
        var rows: [(time: Double, values: [Double?])]
        var column: Int?
        var perServer: Bool
        var band: Double
        var next: Double
        var row = -1

        init(backtest: Backtest, series: Series, first: Double) {
            rows = series.rows
            let check = backtest.scored
            column = check.flatMap { series.metrics.firstIndex(of: $0.metric.perServerBase ?? $0.metric) }
            perServer = check?.metric.perServerBase != nil
            band = check?.targetValue.map { $0.target * (1 + $0.tolerance) } ?? .infinity
            next = first + backtest.scoreFrom.seconds
        }

        /// Counts the seconds before `time`; `pending` instances serve from their times on.
        mutating func count(until time: Double, serving: Int, pending: [Double], into summary: inout Summary) {
            while next < time - 1e-9 {
                while row + 1 < rows.count, rows[row + 1].time <= next + 1e-9 { row += 1 }
                let ready = pending.count(where: { $0 <= next })
                let live = serving + ready
                summary.instanceSeconds += serving + pending.count
                if let column, row >= 0, let value = rows[row].values[column] {
                    let load = perServer ? value / Double(max(live, 1)) : value
                    if load > band * (1 + 1e-9) { summary.underProvisionedSeconds += 1 }
                }
                next += 1
            }
        }
    }

    private static func sample(_ metric: MetricName, _ value: Double?, at time: Date) -> MetricSample {
        MetricSample(
            metric: metric, time: time, reading: value.map(MetricSample.Reading.value) ?? .error("no value recorded"))
    }
}

extension Backtest.Series {
    /// A pool's recorded samples as a series, for `flockctl simulate --pool`: one row per sample
    /// time, in seconds from the first. Backend totals replay as recorded. The replay derives
    /// per-server metrics itself, so a per-server metric whose total was not recorded becomes that
    /// total, the per-server value times the `servers_up` sample of the same time.
    public init(samples: [MetricSample]) {
        let present = Set(samples.map(\.metric))
        let derived = present.compactMap { m in
            m.perServerBase.flatMap { present.contains($0) || !present.contains(.serversUp) ? nil : (m, $0) }
        }
        let totals = Set(derived.map(\.1))
        let columns = MetricName.allCases.filter {
            ($0.perServerBase == nil && present.contains($0)) || totals.contains($0)
        }
        let byTime = Dictionary(grouping: samples, by: \.time).sorted { $0.key < $1.key }
        let start = byTime.first?.key.timeIntervalSince1970 ?? 0
        let rows = byTime.map { time, at in
            let value = { (metric: MetricName) in at.last { $0.metric == metric }?.value }
            let values = columns.map { column in
                if present.contains(column) { return value(column) }
                guard let perServer = derived.first(where: { $0.1 == column })?.0, let v = value(perServer),
                    let up = value(.serversUp)
                else { return nil as Double? }
                return v * up
            }
            return (time: time.timeIntervalSince1970 - start, values: values)
        }
        self.init(metrics: columns, rows: rows)
    }
}
