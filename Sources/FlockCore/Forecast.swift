import Foundation

/// A pool's demand (the backend total behind a target-value check) as one-minute means.
///
/// A day of one-second samples is 86 400 numbers; a forecast reads about 65 minutes of it, so the
/// samples are bucketed once as they arrive and each forecast costs a few dozen dictionary reads.
/// Minutes without a sample are simply absent: gaps never read as zero demand.
public struct DemandHistory: Sendable, Hashable {
    public static let bucketSeconds = 60.0

    struct Bucket: Sendable, Hashable {
        var sum = 0.0
        var count = 0
    }

    private(set) var buckets: [Int: Bucket] = [:]
    /// The oldest minute still held.
    private(set) var oldest: Int?

    public init() {}

    /// The demand behind `check` in `samples`: its backend total (`session_rate` for
    /// `session_rate_per_server`) where the samples carry it, else the per-server value times the
    /// `servers_up` sample taken at the same time. Error samples are left out.
    public init(samples: [MetricSample], check: Check) {
        add(samples: samples, check: check)
    }

    /// Adds the demand behind `check` in `samples` (as `init(samples:check:)` reads it).
    public mutating func add(samples: [MetricSample], check: Check) {
        let base = check.metric.perServerBase ?? check.metric
        let totals = samples.filter { $0.metric == base }
        if !totals.isEmpty || check.metric.perServerBase == nil {
            for sample in totals { if let v = sample.value { add(v, at: sample.time) } }
            return
        }
        let up = Dictionary(
            samples.filter { $0.metric == .serversUp }.compactMap { s in s.value.map { (s.time, $0) } },
            uniquingKeysWith: { a, _ in a })
        for sample in samples where sample.metric == check.metric {
            if let v = sample.value, let servers = up[sample.time] { add(v * servers, at: sample.time) }
        }
    }

    public mutating func add(_ value: Double, at time: Date) {
        guard value.isFinite else { return }
        let minute = Self.minute(time)
        buckets[minute, default: Bucket()].sum += value
        buckets[minute, default: Bucket()].count += 1
        oldest = min(oldest ?? minute, minute)
    }

    /// Drops minutes older than `time`: a forecast never reads more than a season and an hour back.
    public mutating func forget(before time: Date) {
        let cutoff = Self.minute(time)
        guard let oldest, oldest < cutoff else { return }
        buckets = buckets.filter { $0.key >= cutoff }
        self.oldest = buckets.keys.min()
    }

    func mean(_ minute: Int) -> Double? {
        buckets[minute].map { $0.sum / Double($0.count) }
    }

    static func minute(_ time: Date) -> Int {
        Int((time.timeIntervalSince1970 / bucketSeconds).rounded(.down))
    }
}

/// The demand `lead` ahead, from a season of the pool's own history.
///
/// The model is *seasonal naive scaled by the recent level*: the demand one season before the
/// target time (the median of the five minutes around it, so one odd minute does not become a
/// forecast), times the ratio of the last hour to the same hour one season earlier. The ratio
/// carries a busier or quieter day forward; web traffic grows in proportion, so the ratio is
/// multiplicative (additive only when the season-old hour had no demand at all).
///
/// Holt-Winters was the alternative. It needs a smoothing state per minute of the season that
/// must be carried across restarts and re-fitted after every gap, and its three parameters need
/// tuning per pool; this model has none, reads about 65 buckets per forecast, is robust to gaps
/// (the level only compares minutes present in both hours) and explains itself in one line.
/// With less than one season of history it abstains rather than guess.
public enum DemandForecast {
    public enum Outcome: Sendable, Hashable {
        case value(Double)
        case abstains(String)
    }

    /// The hour whose level is compared with the same hour a season earlier.
    static let levelMinutes = 60
    /// At least this many minutes of that hour must be present in both seasons.
    static let levelMinimum = 10

    public static func forecast(_ history: DemandHistory, season: Duration, lead: Duration, now: Date) -> Outcome {
        let seasonMinutes = Int((season.seconds / DemandHistory.bucketSeconds).rounded())
        let current = DemandHistory.minute(now)
        guard let oldest = history.oldest, current - oldest >= seasonMinutes else {
            let hours = history.oldest.map { Double(current - $0) * DemandHistory.bucketSeconds / 3600 } ?? 0
            return .abstains("\(format(hours))h of history, less than one season (\(season.flockText))")
        }
        let target = DemandHistory.minute(now.addingTimeInterval(lead.seconds)) - seasonMinutes
        let around = (target - 2...target + 2).compactMap(history.mean).sorted()
        guard !around.isEmpty else { return .abstains("no history around the same time one season ago") }
        let base = around[around.count / 2]

        var recent = 0.0, past = 0.0, paired = 0
        for minute in current - levelMinutes..<current {
            if let now = history.mean(minute), let then = history.mean(minute - seasonMinutes) {
                recent += now
                past += then
                paired += 1
            }
        }
        guard paired >= levelMinimum else {
            return .abstains("only \(paired) minutes of the last hour can be compared with a season ago")
        }
        let level = past > 0 ? base * recent / past : base + (recent - past) / Double(paired)
        return .value(max(0, level))
    }
}
