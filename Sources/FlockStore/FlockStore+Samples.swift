import FlockCore
import Foundation
import GRDB

struct SampleRecord: StoreRecord {
    static let databaseTableName = "metricSample"
    var id: Int64?
    var pool: String
    var metric: MetricName
    var time: Date
    /// Exactly one of `value` and `error` is set. SQLite stores NaN as NULL, so a NaN value reads
    /// back as an error sample, which is what it is: not a usable number.
    var value: Double?
    var error: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let pool = Column(CodingKeys.pool)
        static let time = Column(CodingKeys.time)
    }

    var sample: MetricSample {
        if error == nil, let value { return MetricSample(metric: metric, time: time, value: value) }
        return MetricSample(metric: metric, time: time, reading: .error(error ?? "not a number"))
    }
}

extension FlockStore {
    /// How long samples are kept by default: enough for a day of `flockctl simulate` backtests.
    public static let defaultSampleRetention: Duration = .seconds(24 * 3600)

    /// Appends one pool's readings in one transaction.
    public func append(samples: [MetricSample], pool: String) throws {
        try append(samples: [pool: samples])
    }

    /// Appends readings for many pools in one transaction: the daemon's tick writes every pool at
    /// once (1000 pools × 10 metrics every few seconds), so one commit instead of one per pool.
    ///
    /// Retention is enforced here, in the same transaction, at most once a minute of sample time:
    /// samples older than `sampleRetention` before the newest one written are deleted, and so are
    /// decisions, events and closed journal entries older than `historyRetention`. Measuring from
    /// the samples rather than the wall clock keeps replays and tests deterministic; the daemon
    /// writes samples every tick, so this is where its store stays bounded.
    public func append(samples byPool: [String: [MetricSample]]) throws {
        guard let newest = byPool.values.joined().map(\.time).max() else { return }
        let prune = lastPrune.withLock { last in
            guard last.map({ newest.timeIntervalSince($0) >= 60 }) ?? true else { return false }
            last = newest
            return true
        }
        try write { db in
            if prune {
                let cutoff = newest.addingTimeInterval(-sampleRetention.seconds)
                try SampleRecord.filter(SampleRecord.Columns.time < cutoff.timeIntervalSince1970).deleteAll(db)
                _ = try Self.pruneHistory(db, asOf: newest, retention: historyRetention)
            }
            // One prepared statement for every row; building records would cost more than the insert.
            let insert = try db.cachedStatement(
                sql: "INSERT INTO metricSample (pool, metric, time, value, error) VALUES (?, ?, ?, ?, ?)"
            )
            for (pool, samples) in byPool {
                for sample in samples {
                    let (value, error): (Double?, String?) =
                        switch sample.reading {
                        case .value(let v): (v, nil)
                        case .error(let e): (nil, e)
                        }
                    try insert.execute(
                        arguments: [pool, sample.metric.rawValue, sample.time.timeIntervalSince1970, value, error])
                }
            }
        }
    }

    /// The samples of `pool` taken at or after `since`, oldest first; with a `limit`, only the
    /// newest `limit` of them (still oldest first), so that a chart of a busy pool stays bounded
    /// and shows the latest part of its window.
    public func samples(pool: String, since: Date, limit: Int? = nil) throws -> [MetricSample] {
        try read { db in
            let request =
                SampleRecord
                .filter(SampleRecord.Columns.pool == pool && SampleRecord.Columns.time >= since.timeIntervalSince1970)
            guard let limit else {
                return try request.order(SampleRecord.Columns.time, SampleRecord.Columns.id).fetchAll(db).map(\.sample)
            }
            return try request.order(SampleRecord.Columns.time.desc, SampleRecord.Columns.id.desc).limit(limit)
                .fetchAll(db).reversed().map(\.sample)
        }
    }

    /// Deletes samples taken before `cutoff`, in every pool; decisions and events are kept.
    /// - Returns: how many samples were deleted.
    @discardableResult
    public func pruneSamples(olderThan cutoff: Date) throws -> Int {
        try write { db in
            try SampleRecord.filter(SampleRecord.Columns.time < cutoff.timeIntervalSince1970).deleteAll(db)
        }
    }
}
