import FlockCore
import Foundation

/// A `Hypervisor` whose VMs are records in memory, for unit tests of the controller logic.
public actor InMemoryHypervisor: Hypervisor {
    private var parents: [String: String]
    private var vms: [String: VMInfo] = [:]
    private var generations: [String: Int] = [:]
    private var failing: Set<String> = []
    private var failAll = false
    private var refuseStandbys = false
    private var pausedParents: Set<String> = []
    private var lost: [String: String] = [:]
    private let now: @Sendable () -> Date

    /// - Parameters:
    ///   - parents: running parent VMs, by name, with their pool.
    ///   - now: the clock standbys are stamped with, so tests of a maximum age control time.
    public init(parents: [String: String], now: @escaping @Sendable () -> Date = { Date() }) {
        self.parents = parents
        self.now = now
    }

    /// Makes the next clone or activation with this name fail, as a broken guest would.
    public func failNextClone(named name: String) {
        failing.insert(name)
    }

    /// Makes every clone fail until switched off, as a broken parent would.
    public func failEveryClone(_ on: Bool) {
        failAll = on
    }

    /// Refuses every standby request until switched off, as a driver that makes none (Xen) does.
    public func refuseStandbys(_ on: Bool) {
        refuseStandbys = on
    }

    public func clone(_ request: CloneRequest) async throws -> CloneBatch {
        guard parents[request.parent] == request.pool else {
            throw FlockError.notFound("no running parent \(request.parent) in pool \(request.pool)")
        }
        if request.standby && refuseStandbys {
            throw FlockError.conflict("this hypervisor makes no standby clones")
        }
        if request.standby && request.mode != .lazy {
            throw FlockError.conflict("standby clones must be lazy, not \(request.mode.rawValue)")
        }
        let generation = generations[request.parent, default: 0] + 1
        generations[request.parent] = generation
        let created = now()
        var batch = CloneBatch(started: [])
        for (index, name) in request.names.enumerated() {
            if failAll || failing.remove(name) != nil || vms[name] != nil {
                batch.failed[name] = vms[name] != nil ? "a VM named \(name) already exists" : "injected failure"
                continue
            }
            let snapshot = request.mode == .cold ? nil : "\(request.parent)@\(generation)"
            let vm = VMInfo(
                name: name, pool: request.pool, status: request.standby ? .paused : .running,
                lineage: .init(parent: request.parent, snapshot: snapshot, generation: generation, mode: request.mode),
                address: "10.0.\(generation % 256).\(index + 2)",
                standby: request.standby ? VMInfo.Standby(createdAt: created, frozenAt: created) : nil
            )
            vms[name] = vm
            batch.started.append(vm)
        }
        return batch
    }

    public func activate(name: String) async throws -> VMInfo {
        guard var vm = vms[name] else { throw FlockError.notFound("no VM named \(name)") }
        guard vm.standby != nil else {
            throw FlockError.conflict("\(name) is not a standby; only standbys can be activated")
        }
        if failAll || failing.remove(name) != nil {
            vms[name] = nil
            throw FlockError.unavailable("\(name) did not acknowledge its identity (injected failure); destroyed it")
        }
        vm.standby = nil
        vm.status = .running
        vms[name] = vm
        return vm
    }

    public func destroy(name: String) async throws {
        vms[name] = nil
    }

    public func ownedVMs() async throws -> [VMInfo] {
        vms.values.sorted { $0.name < $1.name }
    }

    /// Pauses a parent as a crash mid-snapshot, or an operator, would leave it.
    public func pauseParent(_ name: String) {
        pausedParents.insert(name)
    }

    /// Makes a clone's VM vanish as a killed QEMU would, without Flock knowing.
    public func kill(_ name: String) {
        vms[name] = nil
    }

    /// Makes a clone's VM vanish as one on a lost host does: no longer listed, with the cause
    /// `lostCause(of:)` gives.
    public func lose(_ name: String, because cause: String) {
        vms[name] = nil
        lost[name] = cause
    }

    public func lostCause(of name: String) async -> String? { lost[name] }

    public func resumeParent(name: String) async throws -> String? {
        guard parents[name] != nil else { throw FlockError.notFound("no running parent \(name)") }
        return pausedParents.remove(name) != nil ? "paused" : nil
    }
}
