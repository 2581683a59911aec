import Foundation

/// The outcome of one evaluation of a pool's policy, with the reason an operator can read.
///
/// Decisions are recorded even when they hold: the engine's next evaluation reads them back for
/// cooldowns, scale-in stabilization and how long a threshold has been crossed.
public struct Decision: Sendable, Hashable, Codable {
    public enum Action: String, Sendable, Codable, CaseIterable {
        case scaleOut = "scale_out"
        case scaleIn = "scale_in"
        case hold
    }

    public var pool: String
    public var time: Date
    public var action: Action
    /// Capacity when the decision was made: serving plus warming instances.
    public var from: Int
    /// Capacity asked for; equal to `from` when holding.
    public var to: Int
    /// The combined desired count before cooldowns, stabilization and step limits, clamped to
    /// [min, max]. Scale-in stabilization takes the highest of these over its window.
    public var recommendation: Int
    public var reason: String
    public var votes: [CheckVote]
    /// A dry-run decision changes nothing and starts no cooldown.
    public var dryRun: Bool
    /// The predictive block's forecast, when the policy has one.
    public var forecast: ForecastNote?

    public init(
        pool: String, time: Date, action: Action, from: Int, to: Int, recommendation: Int, reason: String,
        votes: [CheckVote], dryRun: Bool, forecast: ForecastNote? = nil
    ) {
        self.pool = pool
        self.time = time
        self.action = action
        self.from = from
        self.to = to
        self.recommendation = recommendation
        self.reason = reason
        self.votes = votes
        self.dryRun = dryRun
        self.forecast = forecast
    }

    /// Checks that had no usable data; each is worth an event.
    public var missing: [CheckVote] { votes.filter { $0.kind == .missing } }

    /// True when this decision resized (or would have resized, in dry run) the pool.
    public var isAction: Bool { action != .hold }

    /// What an operator should see in the event log: the decision when it acts, and one event per
    /// check that had no usable data, so that holding on missing metrics is never silent, and one
    /// when the forecast starts abstaining.
    public var events: [Event] {
        var events = missing.map { Event(time: time, pool: pool, kind: .metricMissing, message: $0.detail) }
        if let forecast, forecast.announce {
            events.append(Event(time: time, pool: pool, kind: .forecast, message: forecast.detail))
        }
        if isAction { events.append(Event(time: time, pool: pool, kind: .decision, message: reason)) }
        return events
    }
}

/// What one check said during one evaluation.
public struct CheckVote: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Wants more capacity.
        case scaleOut = "out"
        /// Agrees to less capacity.
        case scaleIn = "in"
        /// The metric is where it should be; vetoes scale-in.
        case hold
        /// No opinion: a threshold that is not crossed neither triggers nor vetoes anything.
        case abstain
        /// No usable data (none, stale, or a source error); vetoes scale-in and never reads as zero.
        case missing
    }

    public var check: String
    public var metric: MetricName
    /// The aggregated value, when there was data.
    public var value: Double?
    public var kind: Kind
    /// The count this check asks for, when it has one.
    public var desired: Int?
    /// For threshold checks, when the current uninterrupted crossing of the bound began.
    public var breachSince: Date?
    /// A short human explanation naming the value and the rule.
    public var detail: String

    public init(
        check: String, metric: MetricName, value: Double?, kind: Kind, desired: Int?, breachSince: Date? = nil,
        detail: String
    ) {
        self.check = check
        self.metric = metric
        self.value = value
        self.kind = kind
        self.desired = desired
        self.breachSince = breachSince
        self.detail = detail
    }
}

/// Instances counted for a decision.
public struct CapacityCounts: Sendable, Hashable {
    /// Taking traffic, the parent included. Per-server metrics describe these.
    public var serving: Int
    /// Asked for but not serving yet; they count toward capacity so that one burst scales out once.
    public var warming: Int

    /// When `serving` last changed. Per-server samples taken before then were divided by a
    /// different count, so the engine ignores them; without this, the samples from just before a
    /// scale-out would make the engine scale out again for load the new clones already carry.
    public var servingSince: Date?

    public init(serving: Int, warming: Int = 0, servingSince: Date? = nil) {
        self.serving = serving
        self.warming = warming
        self.servingSince = servingSince
    }

    public var total: Int { serving + warming }
}
