import FlockCore
import Foundation
import GRDB

/// One step in an instance's life, kept so that `flockctl` can show how an instance got where it is.
public struct StateChange: Sendable, Hashable {
    public var from: InstanceState
    public var to: InstanceState
    public var time: Date
    /// The reason, when one was given (for `failed`, the failure itself).
    public var note: String?

    public init(from: InstanceState, to: InstanceState, time: Date, note: String? = nil) {
        self.from = from
        self.to = to
        self.time = time
        self.note = note
    }
}

struct InstanceRecord: StoreRecord {
    static let databaseTableName = "instance"
    var name: String
    var pool: String
    var role: Instance.Role
    var state: InstanceState
    var parent: String?
    var snapshot: String?
    var generation: Int
    var cloneMode: CloneMode?
    var address: String?
    var port: Int?
    var mac: String?
    var failure: String?
    var createdAt: Date
    var updatedAt: Date

    enum Columns {
        static let name = Column(CodingKeys.name)
        static let pool = Column(CodingKeys.pool)
        static let state = Column(CodingKeys.state)
        static let createdAt = Column(CodingKeys.createdAt)
    }

    var instance: Instance {
        var i = Instance(
            name: name,
            pool: pool,
            role: role,
            state: state,
            lineage: .init(parent: parent, snapshot: snapshot, generation: generation, mode: cloneMode),
            address: address,
            port: port,
            mac: mac,
            failure: failure,
            createdAt: createdAt
        )
        i.updatedAt = updatedAt
        return i
    }
}

extension InstanceRecord {
    init(_ i: Instance) {
        self.init(
            name: i.name,
            pool: i.pool,
            role: i.role,
            state: i.state,
            parent: i.lineage.parent,
            snapshot: i.lineage.snapshot,
            generation: i.lineage.generation,
            cloneMode: i.lineage.mode,
            address: i.address,
            port: i.port,
            mac: i.mac,
            failure: i.failure,
            createdAt: i.createdAt,
            updatedAt: i.updatedAt
        )
    }
}

struct TransitionRecord: StoreRecord {
    static let databaseTableName = "instanceTransition"
    var id: Int64?
    var instance: String
    var fromState: InstanceState
    var toState: InstanceState
    var time: Date
    var note: String?

    enum Columns {
        static let id = Column(CodingKeys.id)
        static let instance = Column(CodingKeys.instance)
    }
}

extension FlockStore {
    /// Inserts or replaces an instance as a whole (adopting a parent, recording a new clone, an
    /// address learned later). State changes should go through `transition` so they are recorded.
    public func upsert(_ instance: Instance) throws {
        try write { db in try InstanceRecord(instance).save(db) }
    }

    /// The instances of `pool` (all pools when `nil`), oldest first. Instances that are `gone` are
    /// history rather than capacity, so they are left out unless asked for.
    public func instances(pool: String?, includeGone: Bool = false) throws -> [Instance] {
        try read { db in
            var request = InstanceRecord.order(InstanceRecord.Columns.createdAt, InstanceRecord.Columns.name)
            if let pool { request = request.filter(InstanceRecord.Columns.pool == pool) }
            if !includeGone { request = request.filter(InstanceRecord.Columns.state != InstanceState.gone.rawValue) }
            return try request.fetchAll(db).map(\.instance)
        }
    }

    /// One instance by name, whatever its state (`gone` included), or `nil`.
    public func instance(named name: String) throws -> Instance? {
        try read { db in try InstanceRecord.fetchOne(db, key: name)?.instance }
    }

    /// Moves an instance along its state machine and records the step, in one transaction.
    ///
    /// For `failed`, `note` becomes the instance's `failure`.
    /// - Throws: `FlockError.illegalTransition` (nothing is changed), `StoreError.unknownInstance`.
    @discardableResult
    public func transition(
        instance name: String,
        to next: InstanceState,
        at time: Date,
        note: String? = nil
    ) throws -> Instance {
        try write { db in
            guard var instance = try InstanceRecord.fetchOne(db, key: name)?.instance else {
                throw StoreError.unknownInstance(name)
            }
            let from = instance.state
            try instance.transition(to: next, at: time, failure: next == .failed ? note : nil)
            try InstanceRecord(instance).update(db)
            try TransitionRecord(id: nil, instance: name, fromState: from, toState: next, time: time, note: note)
                .insert(db)
            return instance
        }
    }

    /// The recorded steps of an instance, oldest first.
    public func stateHistory(instance name: String) throws -> [StateChange] {
        try read { db in
            try TransitionRecord.filter(TransitionRecord.Columns.instance == name).order(TransitionRecord.Columns.id)
                .fetchAll(db)
                .map { StateChange(from: $0.fromState, to: $0.toState, time: $0.time, note: $0.note) }
        }
    }
}
