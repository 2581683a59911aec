import Foundation

/// One VM of a pool: the warm parent, or a clone forked from it.
public struct Instance: Sendable, Hashable, Codable {
    /// Parents are adopted, never created or destroyed by Flock; clones are Flock's own.
    public enum Role: String, Sendable, Codable { case parent, clone }

    /// Where a clone's memory came from: parent → snapshot → clone.
    public struct Lineage: Sendable, Hashable, Codable {
        /// The parent instance's name.
        public var parent: String?
        /// The frozen memory snapshot the clone maps; `nil` for cold boots and parents.
        public var snapshot: String?
        /// Counts how many times the parent had been cloned when this clone was made.
        public var generation: Int
        public var mode: CloneMode?
        public init(parent: String? = nil, snapshot: String? = nil, generation: Int = 0, mode: CloneMode? = nil) {
            self.parent = parent
            self.snapshot = snapshot
            self.generation = generation
            self.mode = mode
        }
    }

    /// Flock-owned names: `flock-<pool>-<suffix>`.
    public var name: String
    public var pool: String
    public var role: Role
    public var state: InstanceState
    public var lineage: Lineage
    /// Where the balancer reaches the app, once known.
    public var address: String?
    public var port: Int?
    public var mac: String?
    /// Why the instance failed, when `state == .failed`.
    public var failure: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        name: String, pool: String, role: Role, state: InstanceState = .requested, lineage: Lineage = Lineage(),
        address: String? = nil, port: Int? = nil, mac: String? = nil, failure: String? = nil, createdAt: Date
    ) {
        self.name = name
        self.pool = pool
        self.role = role
        self.state = state
        self.lineage = lineage
        self.address = address
        self.port = port
        self.mac = mac
        self.failure = failure
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    /// Moves to `next` if the state machine allows it; the instance is unchanged otherwise.
    public mutating func transition(to next: InstanceState, at time: Date, failure: String? = nil) throws(FlockError) {
        guard state.canTransition(to: next) else {
            throw .illegalTransition(instance: name, from: state, to: next)
        }
        state = next
        updatedAt = time
        if next == .failed { self.failure = failure }
    }
}

/// Flock names everything it creates `flock-<pool>-<suffix>` and only ever deletes what carries the prefix.
///
/// Pool names may contain `-`, so the suffix may not: otherwise `flock-web-a-1` could belong to
/// pool `web` (suffix `a-1`) or pool `web-a` (suffix `1`), and one pool could adopt or delete
/// another's VMs.
public enum OwnedName {
    public static let prefix = "flock-"

    /// - Parameter suffix: lowercase letters and digits only, e.g. a short random id.
    public static func make(pool: String, suffix: String) -> String {
        precondition(isValidSuffix(suffix), "suffix must be [a-z0-9]+, got \(suffix)")
        return "\(prefix)\(pool)-\(suffix)"
    }

    /// True when `name` was made by `make(pool:suffix:)` for exactly this `pool`.
    public static func isOwned(_ name: String, pool: String) -> Bool {
        let head = "\(prefix)\(pool)-"
        return name.hasPrefix(head) && isValidSuffix(name.dropFirst(head.count))
    }

    /// True for any name Flock may have made, whatever the pool.
    public static func isFlockName(_ name: String) -> Bool { name.hasPrefix(prefix) }

    private static func isValidSuffix(_ suffix: some StringProtocol) -> Bool {
        !suffix.isEmpty && suffix.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
