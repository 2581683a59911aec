import FlockCore
import FlockTestSupport
import Foundation
import GRDB
import Testing

@testable import FlockStore

/// Decisions, events and closed journal entries are pruned by age; open intents never are.
@Suite struct RetentionTests {
    let day: Double = 86_400

    func decision(_ seconds: Double, pool: String = "web") -> Decision {
        Decision(
            pool: pool, time: at(seconds), action: .hold, from: 1, to: 1, recommendation: 1, reason: "steady",
            votes: [], dryRun: false)
    }

    /// One week of history at one entry a day, for three pools, and a journal of closed and open work.
    func fill(_ store: FlockStore) throws -> (failedOld: Int64, closedNew: Int64, openOld: Int64, openNew: Int64) {
        for dayIndex in 0...7 {
            let time = Double(dayIndex) * day
            for pool in ["web", "api", "db"] {
                try store.record(decision(time, pool: pool))
                try store.record(Event(time: at(time), pool: pool, kind: .decision, message: "day \(dayIndex)"))
            }
        }
        // Closed a week ago, closed yesterday, open for a week, open since yesterday.
        let closedOld = try store.journalIntent(pool: "web", instance: "a", action: "clone", detail: "", at: at(0))
        try store.journalResult(intentId: closedOld, phase: .done, detail: "", at: at(60))
        let failedOld = try store.journalIntent(pool: "api", instance: "b", action: "drain", detail: "", at: at(0))
        try store.journalResult(intentId: failedOld, phase: .failed, detail: "", at: at(day))
        let closedNew = try store.journalIntent(pool: "web", instance: "c", action: "clone", detail: "", at: at(0))
        try store.journalResult(intentId: closedNew, phase: .done, detail: "", at: at(6.5 * day))
        let openOld = try store.journalIntent(pool: "web", instance: "d", action: "destroy", detail: "", at: at(0))
        let openNew = try store.journalIntent(pool: "db", instance: "e", action: "clone", detail: "", at: at(6 * day))
        return (failedOld, closedNew, openOld, openNew)
    }

    @Test func pruningKeepsTheRetainedSpanAndEveryOpenIntent() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try FlockStore(
            path: scratch.path("flock.db"),
            historyRetention: HistoryRetention(decisions: .seconds(3 * 86_400), events: .seconds(2 * 86_400)))
        #expect(store.historyRetention.journal == .seconds(7 * 86_400))
        let (failedOld, closedNew, openOld, openNew) = try fill(store)

        // At day 7.5: decisions from day 4.5 on (5, 6, 7), events from 5.5 on (6, 7), and the
        // journal's entries closed after day 0.5 (all but the clone closed at 60 s).
        let counts = try store.pruneHistory(asOf: at(7.5 * day))
        #expect(counts == PruneCounts(decisions: 15, events: 18, journal: 2))
        #expect(try store.decisions(pool: "web", since: .distantPast).map(\.time) == [5, 6, 7].map { at($0 * day) })
        #expect(try store.decisions(pool: "db", since: .distantPast).count == 3)
        #expect(
            try store.events(pool: nil, since: nil, limit: 100).map(\.event.message).sorted()
                == (["day 6", "day 7"].flatMap { Array(repeating: $0, count: 3) }))

        let left = try store.journal(pool: nil, limit: 100)
        #expect(left.filter { $0.phase == .intent }.map(\.id) == [failedOld, closedNew, openOld, openNew])
        #expect(left.filter { $0.phase != .intent }.count == 2, "the failed drain (day 1) and the clone (day 6.5)")
        #expect(try store.openIntents(pool: nil).map(\.id) == [openOld, openNew])

        // A week later every closed entry is gone, and the open intents are still there.
        try store.pruneHistory(asOf: at(30 * day))
        #expect(try store.decisions(pool: "web", since: .distantPast).isEmpty)
        #expect(try store.events(pool: nil, since: nil, limit: 100).isEmpty)
        #expect(try store.journal(pool: nil, limit: 100).map(\.id) == [openOld, openNew])
        #expect(try store.openIntents(pool: nil).map(\.id) == [openOld, openNew])
    }

    @Test func samplesArrivingPruneTheHistoryWithTheDefaultWeek() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        #expect(store.historyRetention == HistoryRetention())
        #expect(HistoryRetention.defaultAge == .seconds(7 * 86_400))
        _ = try fill(store)
        try store.append(samples: [MetricSample(metric: .queue, time: at(7.5 * day), value: 1)], pool: "web")
        // A week before day 7.5 is day 0.5: only day 0's entries go.
        #expect(try store.decisions(pool: "web", since: .distantPast).first?.time == at(day))
        #expect(try store.events(pool: "api", since: nil, limit: 100).first?.event.message == "day 1")
        #expect(try store.openIntents(pool: nil).count == 2)
    }

    /// The deletes must be range scans: a table scan per prune grows with the history it bounds.
    @Test func eachPruneUsesAnIndex() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let store = try scratch.store()
        let plans = try store.writer.read { db in
            try [
                "DELETE FROM decision WHERE time < 1",
                "DELETE FROM event WHERE time < 1",
                "DELETE FROM journal WHERE intentId IS NOT NULL AND time < 1",
            ].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)").map { $0["detail"] as String? ?? "" }
                    .joined(separator: "; ")
            }
        }
        #expect(plans[0].contains("INDEX decision_time"), "\(plans[0])")
        #expect(plans[1].contains("INDEX event_time"), "\(plans[1])")
        #expect(plans[2].contains("INDEX journal_time"), "\(plans[2])")
    }

    /// A store made before retention existed gains the indexes when it is next opened.
    @Test func anExistingStoreMigrates() throws {
        let scratch = try Scratch(prefix: "flockstore-tests")
        let path = scratch.path("flock.db")
        let old = try DatabaseQueue(path: path)
        // Exactly the schema as released before retention: the first migration only.
        try Schema.migrator.migrate(old, upTo: "v1")
        try old.write { db in
            try db.execute(
                sql:
                    "INSERT INTO decision (pool, time, action, fromCount, toCount, recommendation, reason, votes, dryRun)"
                    + " VALUES ('web', 0, 'hold', 1, 1, 1, 'old', '[]', 0)")
        }
        let indexesBefore = try old.read { db in try db.indexes(on: "event").map(\.name) }
        #expect(!indexesBefore.contains("event_time"))
        try old.close()

        let store = try FlockStore(path: path)
        let indexes = try store.writer.read { db in
            try ["decision", "event", "journal"].flatMap { try db.indexes(on: $0).map(\.name) }
        }
        #expect(Set(["decision_time", "event_time", "journal_time"]).isSubset(of: Set(indexes)), "\(indexes)")
        #expect(try store.decisions(pool: "web", since: .distantPast).map(\.reason) == ["old"])
    }
}
