import FlockCore
import Foundation
import GRDB

/// A pool as operators see it at a glance: `flockctl status` prints it and `flockd` serves it
/// as `/v1/pools`, so both answer from one query and one JSON shape.
public struct PoolStatus: Sendable, Hashable, Codable {
    public var name: String
    public var backend: String
    /// The store's current policy version (what `flockctl policy apply` or a rollback made current).
    public var policyVersion: Int?
    public var paused: Bool
    /// The operator's fixed desired count, if one is set (`flockctl scale POOL --to N`).
    public var manualDesired: Int?
    /// Taking traffic, the parent included.
    public var serving: Int
    /// Asked for but not serving yet (requested, cloning, booting, ready, registering).
    public var warming: Int
    /// Restored and paused, ready to activate on the next scale-out; never counted as capacity.
    public var standby: Int
    /// Leaving (draining or stopping).
    public var draining: Int
    /// Failed and not yet cleaned up.
    public var failed: Int
    /// The newest recorded decision, holds included.
    public var lastDecision: DecisionSummary?

    public init(
        name: String, backend: String, policyVersion: Int?, paused: Bool, manualDesired: Int?, serving: Int,
        warming: Int, standby: Int, draining: Int, failed: Int, lastDecision: DecisionSummary?
    ) {
        self.name = name
        self.backend = backend
        self.policyVersion = policyVersion
        self.paused = paused
        self.manualDesired = manualDesired
        self.serving = serving
        self.warming = warming
        self.standby = standby
        self.draining = draining
        self.failed = failed
        self.lastDecision = lastDecision
    }

    enum CodingKeys: String, CodingKey {
        case name, backend, paused, serving, warming, standby, draining, failed
        case policyVersion = "policy_version"
        case manualDesired = "manual_desired"
        case lastDecision = "last_decision"
    }

    /// Absent values are written as `null`, so every pool has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(backend, forKey: .backend)
        try c.encode(policyVersion, forKey: .policyVersion)
        try c.encode(paused, forKey: .paused)
        try c.encode(manualDesired, forKey: .manualDesired)
        try c.encode(serving, forKey: .serving)
        try c.encode(warming, forKey: .warming)
        try c.encode(standby, forKey: .standby)
        try c.encode(draining, forKey: .draining)
        try c.encode(failed, forKey: .failed)
        try c.encode(lastDecision, forKey: .lastDecision)
    }
}

/// The part of a decision an operator reads in a status line: what, when, and why.
public struct DecisionSummary: Sendable, Hashable, Codable {
    public var time: Date
    public var action: Decision.Action
    public var from: Int
    public var to: Int
    public var reason: String
    public var dryRun: Bool
    /// The predictive block's forecast; `null` when the policy has none.
    public var forecast: ForecastNote?

    public init(_ decision: Decision) {
        time = decision.time
        action = decision.action
        from = decision.from
        to = decision.to
        reason = decision.reason
        dryRun = decision.dryRun
        forecast = decision.forecast
    }

    enum CodingKeys: String, CodingKey {
        case time, action, from, to, reason, forecast
        case dryRun = "dry_run"
    }

    /// `forecast` is written as `null` when absent, so every decision has the same keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(time, forKey: .time)
        try c.encode(action, forKey: .action)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(reason, forKey: .reason)
        try c.encode(dryRun, forKey: .dryRun)
        try c.encode(forecast, forKey: .forecast)
    }
}

extension FlockStore {
    /// The newest decision of `pool`, or `nil` before its first evaluation. Uses the
    /// (pool, time) index, so it stays cheap however many decisions have been recorded.
    public func latestDecision(pool: String) throws -> Decision? {
        try read { db in
            try DecisionRecord.filter(DecisionRecord.Columns.pool == pool)
                .order(DecisionRecord.Columns.time.desc, DecisionRecord.Columns.id.desc)
                .fetchOne(db)?.decision
        }
    }

    /// The newest `limit` events (of `pool` when given), oldest first: where `flockctl events`
    /// starts before it follows new ones by id.
    public func recentEvents(pool: String?, limit: Int) throws -> [RecordedEvent] {
        try read { db in
            var request = EventRecord.order(EventRecord.Columns.id.desc).limit(limit)
            if let pool { request = request.filter(EventRecord.Columns.pool == pool) }
            return try request.fetchAll(db).reversed().map(RecordedEvent.init)
        }
    }

    /// The status of one pool, or `nil` when the store has no such pool.
    public func status(pool name: String) throws -> PoolStatus? {
        guard let pool = try pool(named: name) else { return nil }
        return try status(of: pool)
    }

    /// Every pool's status, by name.
    public func statuses() throws -> [PoolStatus] {
        try pools().map { try status(of: $0) }
    }

    private func status(of pool: Pool) throws -> PoolStatus {
        let instances = try instances(pool: pool.name)
        return PoolStatus(
            name: pool.name, backend: pool.backend, policyVersion: pool.policyVersion, paused: pool.paused,
            manualDesired: pool.manualDesired,
            serving: instances.filter(\.state.isServing).count,
            warming: instances.filter(\.state.isWarming).count,
            standby: instances.filter { $0.state == .standby }.count,
            draining: instances.filter(\.state.isLeaving).count,
            failed: instances.filter { $0.state == .failed }.count,
            lastDecision: try latestDecision(pool: pool.name).map(DecisionSummary.init)
        )
    }
}
