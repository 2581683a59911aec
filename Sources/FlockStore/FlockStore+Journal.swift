import Foundation
import GRDB

/// One line of the action journal.
///
/// Every action with an outside effect (clone, register, drain, remove, destroy) is written as an
/// *intent* before it starts and gets a *done* or *failed* result after. After a crash, the
/// intents without a result are exactly the actions a restarted daemon must check and finish or
/// roll back.
public struct JournalEntry: Sendable, Equatable {
    /// An intent is written before the action; exactly one result (done or failed) after it.
    public enum Phase: String, Sendable, Codable, CaseIterable {
        case intent, done, failed
    }

    public var id: Int64
    public var pool: String
    public var instance: String?
    /// What was done, e.g. "clone", "register", "drain", "remove", "destroy".
    public var action: String
    public var phase: Phase
    public var detail: String
    public var time: Date
    /// For a result, the intent it completes.
    public var intentId: Int64?

    public init(
        id: Int64,
        pool: String,
        instance: String?,
        action: String,
        phase: Phase,
        detail: String,
        time: Date,
        intentId: Int64? = nil
    ) {
        self.id = id
        self.pool = pool
        self.instance = instance
        self.action = action
        self.phase = phase
        self.detail = detail
        self.time = time
        self.intentId = intentId
    }
}

struct JournalRecord: StoreRecord {
    static let databaseTableName = "journal"
    var id: Int64?
    var pool: String
    var instance: String?
    var action: String
    var phase: JournalEntry.Phase
    var detail: String
    var time: Date
    var intentId: Int64?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let pool = Column(CodingKeys.pool)
        static let intentId = Column(CodingKeys.intentId)
    }

    var entry: JournalEntry {
        JournalEntry(
            id: id ?? 0,
            pool: pool,
            instance: instance,
            action: action,
            phase: phase,
            detail: detail,
            time: time,
            intentId: intentId
        )
    }
}

extension FlockStore {
    /// Records that an action is about to start. Call it before the action's first side effect.
    /// - Returns: the intent's id, to pass to `journalResult`.
    @discardableResult
    public func journalIntent(
        pool: String,
        instance: String?,
        action: String,
        detail: String,
        at time: Date
    ) throws -> Int64 {
        try write { db in
            try JournalRecord(
                id: nil,
                pool: pool,
                instance: instance,
                action: action,
                phase: .intent,
                detail: detail,
                time: time
            ).insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Records how an intent ended. The result copies the intent's pool, instance and action.
    /// - Throws: `StoreError.notAResult` for `.intent`, `.unknownIntent`, or `.intentFinished` when
    ///   the intent already has a result.
    public func journalResult(intentId: Int64, phase: JournalEntry.Phase, detail: String, at time: Date) throws {
        guard phase != .intent else { throw StoreError.notAResult(phase.rawValue) }
        try write { db in
            guard let intent = try JournalRecord.fetchOne(db, key: intentId), intent.phase == .intent else {
                throw StoreError.unknownIntent(intentId)
            }
            if let earlier = try JournalRecord.filter(JournalRecord.Columns.intentId == intentId).fetchOne(db) {
                throw StoreError.intentFinished(intentId, phase: earlier.phase.rawValue)
            }
            try JournalRecord(
                id: nil,
                pool: intent.pool,
                instance: intent.instance,
                action: intent.action,
                phase: phase,
                detail: detail,
                time: time,
                intentId: intentId
            ).insert(db)
        }
    }

    /// Intents that have no result yet, oldest first: the work a restarted daemon must reconcile.
    public func openIntents(pool: String?) throws -> [JournalEntry] {
        try read { db in
            try JournalRecord.fetchAll(
                db,
                sql: """
                    SELECT * FROM journal AS i
                    WHERE i.phase = 'intent' AND (?1 IS NULL OR i.pool = ?1)
                      AND NOT EXISTS (SELECT 1 FROM journal AS r WHERE r.intentId = i.id)
                    ORDER BY i.id
                    """,
                arguments: [pool]
            ).map(\.entry)
        }
    }

    /// The newest `limit` entries of `pool` (all pools when `nil`), returned oldest first.
    public func journal(pool: String?, limit: Int) throws -> [JournalEntry] {
        try read { db in
            var request = JournalRecord.order(JournalRecord.Columns.id.desc).limit(limit)
            if let pool { request = request.filter(JournalRecord.Columns.pool == pool) }
            return try request.fetchAll(db).reversed().map(\.entry)
        }
    }
}
