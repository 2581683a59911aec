import Foundation
import GRDB

/// How long the store keeps what only grows: decisions, events and the journal's closed entries.
///
/// Samples have their own `sampleRetention`, because a day of them is already large while a week of
/// decisions is not. An open journal intent is never pruned, however old: it is work a restarted
/// daemon must still reconcile.
public struct HistoryRetention: Sendable, Hashable {
    public var decisions: Duration
    public var events: Duration
    /// For an intent and its result, counted from the result.
    public var journal: Duration

    public init(
        decisions: Duration = HistoryRetention.defaultAge, events: Duration = HistoryRetention.defaultAge,
        journal: Duration = HistoryRetention.defaultAge
    ) {
        self.decisions = decisions
        self.events = events
        self.journal = journal
    }

    /// A week: long enough to read back why a pool scaled over a weekend.
    public static let defaultAge: Duration = .seconds(7 * 24 * 3600)
}

/// What one prune deleted.
public struct PruneCounts: Sendable, Hashable {
    public var decisions = 0
    public var events = 0
    /// Rows: an intent and its result count as two.
    public var journal = 0
}

extension FlockStore {
    /// Deletes the decisions, events and closed journal entries older than `historyRetention`
    /// before `now`. The daemon need not call it: `append(samples:)` runs it with the samples'
    /// own retention, about once a minute.
    @discardableResult
    public func pruneHistory(asOf now: Date) throws -> PruneCounts {
        try write { db in try Self.pruneHistory(db, asOf: now, retention: historyRetention) }
    }

    /// The prune itself, in the caller's transaction. Each delete is one range scan on a `time`
    /// index (migration v2).
    static func pruneHistory(_ db: Database, asOf now: Date, retention: HistoryRetention) throws -> PruneCounts {
        func cutoff(_ age: Duration) -> Double { now.addingTimeInterval(-age.seconds).timeIntervalSince1970 }
        var counts = PruneCounts()
        try db.execute(sql: "DELETE FROM decision WHERE time < ?", arguments: [cutoff(retention.decisions)])
        counts.decisions = db.changesCount
        try db.execute(sql: "DELETE FROM event WHERE time < ?", arguments: [cutoff(retention.events)])
        counts.events = db.changesCount
        // A result references its intent, so the intent goes first with the check deferred to the
        // commit, when both are gone. An intent without a result is never selected.
        try db.execute(sql: "PRAGMA defer_foreign_keys = ON")
        let journal = cutoff(retention.journal)
        try db.execute(
            sql: """
                DELETE FROM journal WHERE phase = 'intent'
                  AND id IN (SELECT intentId FROM journal WHERE intentId IS NOT NULL AND time < ?)
                """,
            arguments: [journal])
        counts.journal = db.changesCount
        try db.execute(sql: "DELETE FROM journal WHERE intentId IS NOT NULL AND time < ?", arguments: [journal])
        counts.journal += db.changesCount
        return counts
    }
}
