import Foundation

/// Forks warm parent VMs into clones, destroys clones, and lists what Flock owns.
public protocol Hypervisor: Sendable {
    /// Forks `request.names.count` clones of a running parent in one batch.
    ///
    /// A batch shares one snapshot of the parent, so the parent pauses once. Clones that fail are
    /// reported in the result, not thrown, so that the ones that started are not lost; the call
    /// throws only when nothing could start (for example, the parent is gone).
    ///
    /// With `request.standby`, the clones are restored but left paused, without an identity:
    /// standbys, which `activate(name:)` turns into ordinary clones later.
    func clone(_ request: CloneRequest) async throws -> CloneBatch

    /// Starts a standby: hands it a fresh identity (its guest clock stepped to now), runs its
    /// vCPUs and returns once its agent acknowledged, as an ordinary running clone of its
    /// snapshot. A standby that fails to activate is destroyed, and the error thrown.
    ///
    /// Throws `FlockError.notFound` for a name the driver does not know and
    /// `FlockError.conflict` for a VM that is not a standby (a parent, a running clone).
    func activate(name: String) async throws -> VMInfo

    /// Stops and deletes a clone and any files only it used. Destroying a VM that is already
    /// gone is a no-op. Parents are never destroyed.
    func destroy(name: String) async throws

    /// Every VM whose name Flock owns, running or not, so that a restarted daemon can adopt or
    /// clean them up.
    func ownedVMs() async throws -> [VMInfo]
    /// Makes sure a parent runs. A parent left stopped by a snapshot that a crash interrupted
    /// (paused, QEMU's `postmigrate`, a suspended Xen domain), or paused behind Flock's back, is
    /// resumed; one this driver is snapshotting right now is left alone. Returns the state it was
    /// found in when it had to resume it, nil when it was running (or being snapshotted). Throws
    /// `FlockError.notFound` when the parent does not run at all.
    func resumeParent(name: String) async throws -> String?
    /// Why a clone's VM that `ownedVMs` no longer lists went, when the driver knows more than that
    /// it is gone: a driver that runs VMs on other hosts names the host it lost. Nil by default.
    func lostCause(of name: String) async -> String?
}

extension Hypervisor {
    public func lostCause(of name: String) async -> String? { nil }
}

/// A request to fork clones from a parent.
public struct CloneRequest: Sendable, Hashable {
    public var pool: String
    public var parent: String
    public var mode: CloneMode
    /// The clones' names, one per clone; the caller makes them with `OwnedName`.
    public var names: [String]
    /// Restore standbys instead of clones: device state loaded, memory mapped lazily, vCPUs not
    /// started, no identity given, so that activating one later skips everything but the
    /// identity. Only `lazy` clones can be standbys: an idle standby must cost next to no RAM.
    /// (The QEMU driver's `warmStandbys` trades that for a faster activation: each standby runs
    /// once through an identity of its own before it is paused.)
    public var standby: Bool
    public init(pool: String, parent: String, mode: CloneMode, names: [String], standby: Bool = false) {
        self.pool = pool
        self.parent = parent
        self.mode = mode
        self.names = names
        self.standby = standby
    }
}

/// What came of a clone request.
public struct CloneBatch: Sendable, Hashable {
    /// Clones that started and acknowledged their identity; for a standby request, standbys
    /// restored and waiting (`VMInfo.standby` set).
    public var started: [VMInfo]
    /// Clones that did not start, by name, with the cause.
    public var failed: [String: String]
    /// Where each clone was put and why, by name, from a hypervisor that chooses among hosts;
    /// empty from one that has a single host. The controller records each in the pool's events.
    public var placements: [String: String]
    public init(started: [VMInfo], failed: [String: String] = [:], placements: [String: String] = [:]) {
        self.started = started
        self.failed = failed
        self.placements = placements
    }
}

/// A VM as the hypervisor reports it.
public struct VMInfo: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable { case running, paused, stopped }
    public var name: String
    public var pool: String
    public var status: Status
    public var lineage: Instance.Lineage
    public var address: String?
    public var mac: String?
    /// The port the app answers on at `address`, when it is not the pool's usual one: VMs on
    /// user-mode networking share 127.0.0.1 and each gets its own forwarded port.
    public var port: Int?
    /// Set while the VM is a standby (see `CloneRequest.standby`); nil for every other VM. A
    /// standby's status is `paused` while its process lives and `stopped` once it died.
    public var standby: Standby?
    public init(
        name: String, pool: String, status: Status, lineage: Instance.Lineage, address: String? = nil,
        mac: String? = nil, port: Int? = nil, standby: Standby? = nil
    ) {
        self.name = name
        self.pool = pool
        self.status = status
        self.lineage = lineage
        self.address = address
        self.mac = mac
        self.port = port
        self.standby = standby
    }

    /// When a standby was made, so that a caller can replace standbys older than a maximum age.
    public struct Standby: Sendable, Hashable, Codable {
        /// When the standby finished restoring.
        public var createdAt: Date
        /// When the parent's memory it holds was frozen (its snapshot's time, which a reused
        /// snapshot makes earlier than `createdAt`): an activated standby's caches are this old.
        public var frozenAt: Date
        public init(createdAt: Date, frozenAt: Date) {
            self.createdAt = createdAt
            self.frozenAt = frozenAt
        }
    }
}
