import GRDB

/// The database schema, as an ordered list of migrations.
///
/// Migrations are append-only: a released migration is never edited, a change is a new id
/// ("v2", …). Times are REAL seconds since 1970 in every table, so that range queries and
/// retention are plain numeric comparisons. Foreign keys guard only the links whose loss would be
/// a bug (a version without its pool, a transition without its instance, a result without its
/// intent); events, decisions and samples name their pool loosely, so recording them never fails
/// because of what else is in the store.
enum Schema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "pool") { t in
                t.primaryKey("name", .text)
                t.column("backend", .text).notNull()
                t.column("paused", .boolean).notNull().defaults(to: false)
                t.column("manualDesired", .integer)
                t.column("currentVersion", .integer)
                t.column("createdAt", .double).notNull()
            }
            try db.create(table: "policyVersion") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("pool", .text).notNull().references("pool")
                t.column("version", .integer).notNull()
                t.column("backend", .text).notNull()
                t.column("source", .text).notNull()
                t.column("checksum", .text).notNull()
                t.column("appliedAt", .double).notNull()
                t.column("appliedBy", .text).notNull()
                t.column("note", .text)
                t.uniqueKey(["pool", "version"])
            }
            try db.create(table: "instance") { t in
                t.primaryKey("name", .text)
                t.column("pool", .text).notNull().indexed()
                t.column("role", .text).notNull()
                t.column("state", .text).notNull()
                t.column("parent", .text)
                t.column("snapshot", .text)
                t.column("generation", .integer).notNull()
                t.column("cloneMode", .text)
                t.column("address", .text)
                t.column("port", .integer)
                t.column("mac", .text)
                t.column("failure", .text)
                t.column("createdAt", .double).notNull()
                t.column("updatedAt", .double).notNull()
            }
            try db.create(table: "instanceTransition") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("instance", .text).notNull().indexed().references("instance", onDelete: .cascade)
                t.column("fromState", .text).notNull()
                t.column("toState", .text).notNull()
                t.column("time", .double).notNull()
                t.column("note", .text)
            }
            try db.create(table: "journal") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("pool", .text).notNull().indexed()
                t.column("instance", .text)
                t.column("action", .text).notNull()
                t.column("phase", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("time", .double).notNull()
                t.column("intentId", .integer).indexed().references("journal")
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .double).notNull()
                t.column("pool", .text).indexed()
                t.column("kind", .text).notNull()
                t.column("message", .text).notNull()
            }
            try db.create(table: "decision") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("pool", .text).notNull()
                t.column("time", .double).notNull()
                t.column("action", .text).notNull()
                t.column("fromCount", .integer).notNull()
                t.column("toCount", .integer).notNull()
                t.column("recommendation", .integer).notNull()
                t.column("reason", .text).notNull()
                t.column("votes", .text).notNull()
                t.column("dryRun", .boolean).notNull()
            }
            try db.create(index: "decision_pool_time", on: "decision", columns: ["pool", "time"])
            try db.create(table: "metricSample") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("pool", .text).notNull()
                t.column("metric", .text).notNull()
                t.column("time", .double).notNull()
                t.column("value", .double)
                t.column("error", .text)
            }
            try db.create(
                index: "metricSample_pool_metric_time",
                on: "metricSample",
                columns: ["pool", "metric", "time"]
            )
            // Retention deletes by time across all pools; without this index every prune scans the table.
            try db.create(index: "metricSample_time", on: "metricSample", columns: ["time"])
        }
        // Retention prunes decisions, events and closed journal entries by time across all pools
        // (FlockStore+Retention); these make each delete a range scan instead of a table scan.
        migrator.registerMigration("v2") { db in
            try db.create(index: "decision_time", on: "decision", columns: ["time"])
            try db.create(index: "event_time", on: "event", columns: ["time"])
            try db.create(index: "journal_time", on: "journal", columns: ["time"])
        }
        // The predictive block's forecast, kept with its decision so `flockctl status` can show it.
        migrator.registerMigration("v3") { db in
            try db.alter(table: "decision") { t in t.add(column: "forecast", .text) }
        }
        return migrator
    }()
}

/// The conventions every record shares: `Codable` columns, and `Date`s stored as seconds since 1970.
///
/// Queries must compare times with `date.timeIntervalSince1970`: GRDB only applies this strategy
/// when it encodes whole records, not to values in `filter` expressions.
protocol StoreRecord: Codable, FetchableRecord, PersistableRecord {}

extension StoreRecord {
    static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .timeIntervalSince1970
    }
    static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .timeIntervalSince1970
    }
}
