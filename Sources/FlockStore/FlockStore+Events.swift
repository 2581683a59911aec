import FlockCore
import Foundation
import GRDB

/// An event with the id it was stored under; `flockctl events --follow` polls with the last id seen.
public struct RecordedEvent: Sendable, Hashable {
    public var id: Int64
    public var event: Event

    public init(id: Int64, event: Event) {
        self.id = id
        self.event = event
    }
}

struct EventRecord: StoreRecord {
    static let databaseTableName = "event"
    var id: Int64?
    var time: Date
    var pool: String?
    var kind: Event.Kind
    var message: String

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let pool = Column(CodingKeys.pool)
    }
}

struct DecisionRecord: StoreRecord {
    static let databaseTableName = "decision"
    var id: Int64?
    var pool: String
    var time: Date
    var action: Decision.Action
    var fromCount: Int
    var toCount: Int
    var recommendation: Int
    var reason: String
    /// Stored as JSON text: votes are read back whole, never queried by field.
    var votes: [CheckVote]
    var dryRun: Bool
    /// JSON text too, or NULL when the policy has no predictive block.
    var forecast: ForecastNote?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let pool = Column(CodingKeys.pool)
        static let time = Column(CodingKeys.time)
        static let action = Column(CodingKeys.action)
    }

    var decision: Decision {
        Decision(
            pool: pool,
            time: time,
            action: action,
            from: fromCount,
            to: toCount,
            recommendation: recommendation,
            reason: reason,
            votes: votes,
            dryRun: dryRun,
            forecast: forecast
        )
    }

    // GRDB's default JSON encoder rounds dates to milliseconds and rejects NaN. Votes must read back
    // exactly (the engine compares `breachSince`), and a NaN reading must not make a decision unrecordable.
    private static let nonFinite = (positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")

    static func databaseJSONEncoder(for column: String) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positiveInfinity,
            negativeInfinity: nonFinite.negativeInfinity,
            nan: nonFinite.nan
        )
        return encoder
    }

    static func databaseJSONDecoder(for column: String) -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positiveInfinity,
            negativeInfinity: nonFinite.negativeInfinity,
            nan: nonFinite.nan
        )
        return decoder
    }
}

extension RecordedEvent {
    /// Messages are escaped again on the way out (escaping is idempotent): a store written by a
    /// version that did not escape on write still holds raw rows.
    init(_ record: EventRecord) {
        self.init(
            id: record.id ?? 0,
            event: Event(
                time: record.time, pool: record.pool, kind: record.kind,
                message: record.message.escapingControlCharacters))
    }
}

extension DecisionRecord {
    init(_ d: Decision) {
        self.init(
            id: nil,
            pool: d.pool,
            time: d.time,
            action: d.action,
            fromCount: d.from,
            toCount: d.to,
            recommendation: d.recommendation,
            reason: d.reason,
            votes: d.votes,
            dryRun: d.dryRun,
            forecast: d.forecast
        )
    }
}

extension FlockStore {
    /// Stores an event for operators to read later. Its message is stored with control characters
    /// escaped (`\u001b`): messages quote guest-written text, which must never reach a terminal raw.
    /// - Returns: its id; ids only grow, so they order events and let readers resume.
    @discardableResult
    public func record(_ event: Event) throws -> Int64 {
        try write { db in
            try EventRecord(
                id: nil, time: event.time, pool: event.pool, kind: event.kind,
                message: event.message.escapingControlCharacters
            )
            .insert(db)
            return db.lastInsertedRowID
        }
    }

    /// Events after id `since` (from the start when `nil`), oldest first, at most `limit`.
    /// With a `pool`, only that pool's events; events without a pool are left out.
    public func events(pool: String?, since id: Int64?, limit: Int) throws -> [RecordedEvent] {
        try read { db in
            var request = EventRecord.order(EventRecord.Columns.id).limit(limit)
            if let id { request = request.filter(EventRecord.Columns.id > id) }
            if let pool { request = request.filter(EventRecord.Columns.pool == pool) }
            return try request.fetchAll(db).map(RecordedEvent.init)
        }
    }

    /// Stores a decision, holds and dry runs included: the engine reads them back for cooldowns and
    /// stabilization, and operators read them to learn why a pool did or did not scale.
    public func record(_ decision: Decision) throws {
        try write { db in try DecisionRecord(decision).insert(db) }
    }

    /// The decisions of `pool` made at or after `since`, oldest first. With `actions`, only those
    /// actions (the console's log filter, its chart's markers); with a `limit`, only the newest
    /// `limit` (still oldest first): a pool records a hold every tick.
    public func decisions(
        pool: String, since: Date, actions: Set<Decision.Action>? = nil, limit: Int? = nil
    ) throws -> [Decision] {
        try read { db in
            var request = DecisionRecord.filter(
                DecisionRecord.Columns.pool == pool && DecisionRecord.Columns.time >= since.timeIntervalSince1970)
            if let actions { request = request.filter(actions.map(\.rawValue).contains(DecisionRecord.Columns.action)) }
            guard let limit else {
                return try request.order(DecisionRecord.Columns.time, DecisionRecord.Columns.id).fetchAll(db)
                    .map(\.decision)
            }
            return try request.order(DecisionRecord.Columns.time.desc, DecisionRecord.Columns.id.desc).limit(limit)
                .fetchAll(db).reversed().map(\.decision)
        }
    }
}
