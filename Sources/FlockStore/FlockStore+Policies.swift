import FlockCore
import Foundation
import GRDB

/// One stored version of a pool's policy, exactly as it was applied.
///
/// The YAML text is kept rather than the parsed `Policy`, so that `flockctl` can show, compare and
/// roll back to what the operator wrote, comments included, and a newer parser reads old versions.
public struct PolicyVersion: Sendable, Equatable {
    public var pool: String
    /// Counts from 1 per pool; never reused, even by a rollback.
    public var version: Int
    /// The balancer backend this version targets (a rollback restores it on the pool).
    public var backend: String
    public var source: String
    /// Identifies the text; re-applying an unchanged file is recognised by it and creates nothing.
    public var checksum: String
    public var appliedAt: Date
    /// The user who applied it, for the audit trail.
    public var appliedBy: String
    /// Why it exists when that is not obvious, e.g. "rollback to version 2".
    public var note: String?

    public init(
        pool: String,
        version: Int,
        backend: String,
        source: String,
        checksum: String,
        appliedAt: Date,
        appliedBy: String,
        note: String? = nil
    ) {
        self.pool = pool
        self.version = version
        self.backend = backend
        self.source = source
        self.checksum = checksum
        self.appliedAt = appliedAt
        self.appliedBy = appliedBy
        self.note = note
    }
}

/// A validated policy file to apply. The caller computes `checksum` over `source`.
public struct PolicyChange: Sendable, Hashable {
    public var pool: String
    public var backend: String
    public var source: String
    public var checksum: String
    public var note: String?

    public init(pool: String, backend: String, source: String, checksum: String, note: String? = nil) {
        self.pool = pool
        self.backend = backend
        self.source = source
        self.checksum = checksum
        self.note = note
    }
}

struct PoolRecord: StoreRecord {
    static let databaseTableName = "pool"
    var name: String
    var backend: String
    var paused: Bool
    var manualDesired: Int?
    var currentVersion: Int?
    var createdAt: Date

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let paused = Column(CodingKeys.paused)
        static let manualDesired = Column(CodingKeys.manualDesired)
    }

    var pool: Pool {
        Pool(name: name, backend: backend, paused: paused, manualDesired: manualDesired, policyVersion: currentVersion)
    }
}

struct PolicyVersionRecord: StoreRecord {
    static let databaseTableName = "policyVersion"
    var id: Int64?
    var pool: String
    var version: Int
    var backend: String
    var source: String
    var checksum: String
    var appliedAt: Date
    var appliedBy: String
    var note: String?

    enum Columns {
        static let pool = Column(CodingKeys.pool)
        static let version = Column(CodingKeys.version)
    }

    static func of(pool: String) -> QueryInterfaceRequest<Self> { filter(Columns.pool == pool) }

    var policyVersion: PolicyVersion {
        PolicyVersion(
            pool: pool,
            version: version,
            backend: backend,
            source: source,
            checksum: checksum,
            appliedAt: appliedAt,
            appliedBy: appliedBy,
            note: note
        )
    }
}

extension FlockStore {
    /// Applies several policy files as one change: either every new version is stored or none is.
    ///
    /// Pools are created on first apply. A change whose checksum equals the pool's current version
    /// is skipped, so re-applying the whole `Policies/` directory only versions what changed.
    /// - Returns: the versions created, in the order of `changes`.
    /// - Throws: `StoreError.duplicatePool` (before touching the database) when a pool appears twice.
    @discardableResult
    public func applyPolicies(_ changes: [PolicyChange], by user: String, at time: Date) throws -> [PolicyVersion] {
        var seen = Set<String>()
        for change in changes where !seen.insert(change.pool).inserted {
            throw StoreError.duplicatePool(change.pool)
        }
        return try write { db in
            try changes.compactMap { change in
                try Self.addVersion(
                    db,
                    pool: change.pool,
                    backend: change.backend,
                    source: change.source,
                    checksum: change.checksum,
                    note: change.note,
                    by: user,
                    at: time
                )
            }
        }
    }

    /// The version in force, or `nil` for a pool that was never applied.
    public func currentPolicy(pool: String) throws -> PolicyVersion? {
        try read { db in
            guard let version = try PoolRecord.fetchOne(db, key: pool)?.currentVersion else { return nil }
            return try Self.version(db, pool: pool, version: version)?.policyVersion
        }
    }

    /// One version of `pool`, e.g. to show or compare it; `nil` when it does not exist.
    public func policyVersion(pool: String, version: Int) throws -> PolicyVersion? {
        try read { db in try Self.version(db, pool: pool, version: version)?.policyVersion }
    }

    /// Every version of `pool`, oldest first.
    public func policyHistory(pool: String) throws -> [PolicyVersion] {
        try read { db in
            try PolicyVersionRecord.of(pool: pool).order(PolicyVersionRecord.Columns.version).fetchAll(db)
                .map(\.policyVersion)
        }
    }

    /// Every pool, by name, with `policyVersion` set to the version in force.
    public func pools() throws -> [Pool] {
        try read { db in try PoolRecord.order(PoolRecord.Columns.name).fetchAll(db).map(\.pool) }
    }

    /// One pool, or `nil` if no policy for it was ever applied; the daemon reads it every tick
    /// for the operator's pause and manual count.
    public func pool(named name: String) throws -> Pool? {
        try read { db in try PoolRecord.fetchOne(db, key: name)?.pool }
    }

    /// Re-applies an old version's text as a new version, so history only ever grows and the
    /// rollback itself is audited.
    /// - Returns: the new version, or `nil` when that text is already in force.
    @discardableResult
    public func rollback(pool: String, to version: Int, by user: String, at time: Date) throws -> PolicyVersion? {
        try write { db in
            guard try PoolRecord.exists(db, key: pool) else { throw StoreError.unknownPool(pool) }
            guard let old = try Self.version(db, pool: pool, version: version) else {
                let existing = try Int.fetchAll(
                    db,
                    PolicyVersionRecord.of(pool: pool).select(PolicyVersionRecord.Columns.version)
                        .order(PolicyVersionRecord.Columns.version)
                )
                throw StoreError.unknownVersion(pool: pool, version: version, existing: existing)
            }
            return try Self.addVersion(
                db,
                pool: pool,
                backend: old.backend,
                source: old.source,
                checksum: old.checksum,
                note: "rollback to version \(version)",
                by: user,
                at: time
            )
        }
    }

    /// Paused pools keep recording samples and decisions but are not resized.
    public func setPaused(pool: String, _ paused: Bool) throws {
        try updatePool(pool, PoolRecord.Columns.paused.set(to: paused))
    }

    /// Fixes the desired count until cleared with `nil`, overriding the policy.
    public func setManualDesired(pool: String, _ desired: Int?) throws {
        try updatePool(pool, PoolRecord.Columns.manualDesired.set(to: desired))
    }

    private func updatePool(_ pool: String, _ assignment: ColumnAssignment) throws {
        try write { db in
            guard try PoolRecord.filter(key: pool).updateAll(db, assignment) > 0 else {
                throw StoreError.unknownPool(pool)
            }
        }
    }

    private static func version(_ db: Database, pool: String, version: Int) throws -> PolicyVersionRecord? {
        try PolicyVersionRecord.of(pool: pool).filter(PolicyVersionRecord.Columns.version == version).fetchOne(db)
    }

    /// Stores `source` as the pool's next version unless it is already the current one.
    private static func addVersion(
        _ db: Database,
        pool: String,
        backend: String,
        source: String,
        checksum: String,
        note: String?,
        by user: String,
        at time: Date
    ) throws -> PolicyVersion? {
        var poolRecord =
            try PoolRecord.fetchOne(db, key: pool)
            ?? PoolRecord(
                name: pool,
                backend: backend,
                paused: false,
                manualDesired: nil,
                currentVersion: nil,
                createdAt: time
            )
        let current = try poolRecord.currentVersion.flatMap { try version(db, pool: pool, version: $0) }
        if current?.checksum == checksum { return nil }
        let last = try Int.fetchOne(
            db,
            PolicyVersionRecord.of(pool: pool).select(max(PolicyVersionRecord.Columns.version))
        )
        let record = PolicyVersionRecord(
            id: nil,
            pool: pool,
            version: (last ?? 0) + 1,
            backend: backend,
            source: source,
            checksum: checksum,
            appliedAt: time,
            appliedBy: user,
            note: note
        )
        poolRecord.backend = backend
        poolRecord.currentVersion = record.version
        try poolRecord.save(db)  // before the version: the version's foreign key needs the pool row
        try record.insert(db)
        return record.policyVersion
    }
}
