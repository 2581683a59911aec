import FlockCore
import FlockQEMU
import Foundation
import Logging
import Metrics

/// A pool's hypervisor when its clones may run on several hosts: the parent's own QEMU driver
/// (`Placement.localHost`) and other hosts reached over SSH. The pool controller sees one
/// `Hypervisor`; each clone batch is placed host by host (`Placement`), the parent's lazy snapshot
/// is shipped once to each host that needs it, and the clones there are restored on that host's
/// VM network, so their addresses come from its subnet.
///
/// Standbys, activation and parents stay on the local driver: a standby is waiting capacity on
/// the parent's host, and only lazy clones restore from a shipped snapshot.
public actor PlacingHypervisor: Hypervisor {
    /// One other host: how it is reached, its VM network, and the operator's limits there.
    public struct Member: Sendable {
        public var name: String
        public var host: RemoteHost
        public var network: NetworkSpec
        public var maxVMs: Int?
        public var maxMemoryBytes: Int?
        /// ssh's standard error of the shipments to it.
        public var shipLog: String
        /// How long it may go unanswered before it is lost and its clones fail (`HostWatch`).
        public var lostAfter: Duration

        public init(
            name: String, host: RemoteHost, network: NetworkSpec, maxVMs: Int? = nil, maxMemoryBytes: Int? = nil,
            shipLog: String, lostAfter: Duration = .seconds(15)
        ) {
            self.name = name
            self.host = host
            self.network = network
            self.maxVMs = maxVMs
            self.maxMemoryBytes = maxMemoryBytes
            self.shipLog = shipLog
            self.lostAfter = lostAfter
        }
    }

    /// The pool it places for, in logs, metrics and host statuses.
    let pool: String
    let local: QEMUDriver
    /// Whether the parent's host takes clones too (`local` in the placement's hosts).
    let includesLocal: Bool
    let members: [String: Member]
    let strategy: Placement.Strategy
    let logger: Logger
    /// Which host runs each clone this hypervisor knows, by clone name; learnt from clones it
    /// made and from `ownedVMs`.
    private var homes: [String: String] = [:]
    /// Which hosts answer, and what stands for the listing of one that does not.
    var watch: HostWatch
    /// What each other host last said and last failed, for `hostStatuses()`.
    var sightings: [String: Sighting] = [:]
    /// Lost hosts being asked in the background whether they answer again, and what they said.
    private var probes: [String: Task<Void, Never>] = [:]
    private var probed: [String: Result<[RemoteVM], HostError>] = [:]
    /// The parent's snapshot last exported, kept pinned until a newer one replaces it: unpinned,
    /// a snapshot no local clone maps is deleted at once, and every batch would pause the parent
    /// and ship a new one, though the hosts hold one young enough (`snapshot_max_age`).
    private var currentExport: String?
    /// What each shipment moved, in order, for operators and tests: the last `transfersKept`, so
    /// that a daemon running for months does not grow with every batch.
    public private(set) var transfers: [(host: String, snapshot: String, transfer: RemoteHost.Transfer)] = []
    static let transfersKept = 256

    public init(
        pool: String, local: QEMUDriver, includesLocal: Bool, members: [Member], strategy: Placement.Strategy,
        logger: Logger
    ) {
        self.pool = pool
        self.local = local
        self.includesLocal = includesLocal
        self.members = Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0) })
        self.strategy = strategy
        self.logger = logger
        watch = HostWatch(lostAfter: Dictionary(uniqueKeysWithValues: members.map { ($0.name, $0.lostAfter) }))
    }

    public func clone(_ request: CloneRequest) async throws -> CloneBatch {
        guard !request.standby, request.mode == .lazy, !members.isEmpty else {
            // Only lazy clones restore from a shipped snapshot; standbys wait on the parent's host.
            guard includesLocal || request.standby else {
                throw FlockError.conflict(
                    "only lazy clones can be placed on other hosts, and this pool's placement leaves out 'local'")
            }
            return try await local.clone(request)
        }
        guard let parent = await local.record(named: request.parent), parent.role == .parent else {
            throw FlockError.notFound(request.parent)
        }
        // One snapshot for the batch: placement prefers hosts that hold it, and it is what ships.
        let exported: ExportedSnapshot
        do {
            exported = try await local.exportSnapshot(ofParent: request.parent)
        } catch {
            throw error.asFlockError
        }
        let reports = await self.reports(for: exported)
        let plan = Placement.plan(
            Placement.Request(
                clones: request.names.count, memoryBytes: parent.spec.memoryMiB << 20, snapshot: exported.record.id,
                strategy: strategy),
            hosts: reports)
        for (host, reason) in plan.skipped.sorted(by: { $0.key < $1.key }) {
            logger.notice("host skipped", metadata: ["pool": "\(request.pool)", "host": "\(host)", "why": "\(reason)"])
        }
        var batch = CloneBatch(started: [])
        var groups: [String: [String]] = [:]
        for (name, choice) in zip(request.names, plan.choices) {
            groups[choice.host, default: []].append(name)
            batch.placements[name] = "on \(choice.host): \(choice.reason)"
        }
        for name in request.names.dropFirst(plan.choices.count) {
            let skipped = plan.skipped.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            batch.failed[name] =
                "not placed: \(plan.unplaced ?? "no host")"
                + (skipped.isEmpty ? "" : " (\(skipped.joined(separator: "; ")))")
        }
        let results = await withTaskGroup(of: (String, Result<CloneBatch, any Error>).self) { group in
            for (host, names) in groups {
                group.addTask { (host, await self.clone(names, on: host, request: request, exported: exported)) }
            }
            var results: [(String, Result<CloneBatch, any Error>)] = []
            for await result in group { results.append(result) }
            return results
        }
        for (host, result) in results {
            switch result {
            case .success(let part):
                batch.started += part.started
                batch.failed.merge(part.failed) { first, _ in first }
                for vm in part.started { homes[vm.name] = host }
                watch.started(part.started, on: host)
            case .failure(let error):
                for name in groups[host] ?? [] { batch.failed[name] = "on \(host): \(error)" }
            }
        }
        if let previous = currentExport { await local.releaseExport(previous) }
        currentExport = exported.record.id
        await releaseStaleSnapshots(
            of: request.parent, keeping: exported.record.id,
            on: Set(reports.filter { $0.reachable && $0.name != Placement.localHost }.map(\.name)))
        batch.started.sort { $0.name < $1.name }
        // No host could take any clone: the batch fails whole, as a single host's would, saying why.
        if plan.choices.isEmpty { throw FlockError.conflict(batch.failed.values.sorted().first ?? "no host") }
        return batch
    }

    /// One host's share of a batch: locally, a lazy clone batch (reusing the exported snapshot
    /// while it is young); elsewhere, the snapshot shipped unless held, then restored there.
    private func clone(
        _ names: [String], on host: String, request: CloneRequest, exported: ExportedSnapshot
    ) async -> Result<CloneBatch, any Error> {
        guard let member = members[host] else {
            var part = request
            part.names = names
            do { return .success(try await local.clone(part)) } catch { return .failure(error) }
        }
        do {
            let transfer: RemoteHost.Transfer
            do {
                transfer = try await member.host.ensureSnapshot(exported, logPath: member.shipLog)
            } catch {
                noteFailure(host, "shipping snapshot \(exported.record.id)", error)
                throw error
            }
            recordTransfer(transfer, to: host)
            transfers.append((host, exported.record.id, transfer))
            if transfers.count > Self.transfersKept { transfers.removeFirst(transfers.count - Self.transfersKept) }
            logger.info(
                "snapshot on host",
                metadata: [
                    "host": "\(host)", "snapshot": "\(exported.record.id)", "shipped": "\(transfer.shipped)",
                    "bytes": "\(transfer.bytes)", "seconds": "\(String(format: "%.2f", transfer.seconds))",
                ])
            let result: (started: [RemoteVM], failed: [String: String])
            do {
                result = try await member.host.clone(
                    snapshot: exported.record.id, pool: request.pool, names: names, network: member.network)
            } catch {
                noteFailure(host, "cloning \(names.joined(separator: ", "))", error)
                throw error
            }
            return .success(CloneBatch(started: result.started.map(VMInfo.init), failed: result.failed))
        } catch {
            return .failure(error)
        }
    }

    /// Deletes, on each host that answered this batch's hello (`answered`: asking one that did not
    /// would hold the batch for a deadline), the parent's older snapshots that no clone there maps. The last clone of a snapshot deletes it as it goes, but one whose
    /// clones all failed, or that a host received just before the parent's next snapshot, has no
    /// last clone and would hold the host's tmpfs for good. The host refuses a snapshot in use
    /// (a clone being started from it included), so this never races a batch.
    private func releaseStaleSnapshots(of parent: String, keeping current: String, on answered: Set<String>) async {
        for host in answered.sorted() {
            guard let hello = sightings[host]?.hello, let member = members[host] else { continue }
            let used = Set(hello.vms.compactMap(\.lineage.snapshot))
            for id in hello.snapshots where id.hasPrefix("\(parent)-g") && id != current && !used.contains(id) {
                do {
                    try await member.host.releaseSnapshot(id, deadline: .seconds(10))
                    logger.info("stale snapshot released", metadata: ["host": "\(host)", "snapshot": "\(id)"])
                } catch {
                    logger.notice(
                        "stale snapshot kept", metadata: ["host": "\(host)", "snapshot": "\(id)", "why": "\(error)"])
                }
            }
        }
    }

    /// What each candidate host says now; a host that does not answer is reported unreachable.
    private func reports(for exported: ExportedSnapshot) async -> [Placement.HostReport] {
        var reports: [Placement.HostReport] = []
        if includesLocal {
            let vms = (try? await local.ownedVMs().count) ?? 0
            reports.append(
                Placement.HostReport(
                    name: Placement.localHost, memAvailableBytes: HostLoad.memAvailableBytes(),
                    cores: ProcessInfo.processInfo.activeProcessorCount, load: HostLoad.loadAverage().first ?? 0,
                    vms: vms, snapshots: Set(await local.snapshots().map(\.id))))
        }
        await withTaskGroup(of: (Placement.HostReport, Result<HostHello, HostError>?).self) { group in
            for member in members.values {
                // A lost host is not asked: it answers again in a listing first.
                if let cause = watch.lostCause(member.name) {
                    group.addTask { (Self.unreachable(member, problem: cause), nil) }
                    continue
                }
                group.addTask { await Self.report(member, for: exported) }
            }
            for await (report, hello) in group {
                reports.append(report)
                switch hello {
                case .success(let hello): note(report.name, hello: hello)
                case .failure(let error): noteFailure(report.name, "hello", error)
                case nil: break
                }
            }
        }
        return reports.sorted { $0.name < $1.name }
    }

    private static func report(
        _ member: Member, for exported: ExportedSnapshot
    ) async -> (Placement.HostReport, Result<HostHello, HostError>?) {
        do {
            let hello = try await member.host.hello(deadline: .seconds(10))
            let here = hello.compatibility(
                machine: exported.parent.spec.machine, accelerator: exported.parent.accelerator)
            let differences =
                exported.record.compatibility.map { here.differences(fromSnapshot: $0) } ?? [
                    "the snapshot records no QEMU version, machine type or CPU model"
                ]
            let report = Placement.HostReport(
                name: member.name, incompatibility: differences.isEmpty ? nil : differences.joined(separator: "; "),
                memAvailableBytes: hello.memAvailableBytes, cores: hello.cores, load: hello.loadAverage.first ?? 0,
                vms: hello.vms.count, snapshots: Set(hello.snapshots), maxVMs: member.maxVMs,
                maxMemoryBytes: member.maxMemoryBytes)
            return (report, .success(hello))
        } catch {
            return (unreachable(member, problem: error.message), .failure(error))
        }
    }

    private static func unreachable(_ member: Member, problem: String) -> Placement.HostReport {
        Placement.HostReport(
            name: member.name, reachable: false, problem: problem, memAvailableBytes: 0, cores: 0, load: 0, vms: 0)
    }

    /// Destroys a clone on its host. One on a lost host cannot be reached: it is recorded as left
    /// there and the call returns, so that the pool's store can let it go; when the host answers
    /// again, its listing shows the VM with no live record, and the pool's reconcile destroys it.
    public func destroy(name: String) async throws {
        if homes[name] == nil { _ = try? await ownedVMs() }
        if let home = homes[name], let member = members[home] {
            if let cause = watch.lostCause(home) {
                watch.leftBehind(name, on: home)
                logger.notice(
                    "clone left on a lost host; destroyed once it answers again",
                    metadata: ["vm": "\(name)", "host": "\(home)", "why": "\(cause)"])
                return
            }
            do {
                try await member.host.destroy(name)
            } catch {
                noteFailure(home, "destroying \(name)", error)
                throw error
            }
        } else {
            try await local.destroy(name: name)
        }
        homes[name] = nil
    }

    /// The local driver's VMs and every other host's, all hosts asked at once. A host that does
    /// not answer is judged by `HostWatch`: within its grace its last listing stands in (or, when
    /// it has not answered since this process started, the listing fails saying which, rather
    /// than make its clones look gone); past the grace it is lost, and its VMs are left out.
    public func ownedVMs() async throws -> [VMInfo] {
        var vms = try await local.ownedVMs()
        for vm in vms where homes[vm.name] == nil { homes[vm.name] = Placement.localHost }
        let asked = ContinuousClock.now
        // A lost host is asked in the background (`probe`): waiting for it would hold every tick
        // for its deadline. Its last probe's answer, if one came, counts here.
        var answers: [(String, Result<[RemoteVM], HostError>)] = []
        var asking: [Member] = []
        for member in members.values {
            if watch.lostCause(member.name) == nil {
                asking.append(member)
            } else if let answer = probed.removeValue(forKey: member.name) {
                answers.append((member.name, answer))
            } else {
                probe(member)
            }
        }
        answers += await withTaskGroup(of: (String, Result<[RemoteVM], HostError>).self) { group in
            for member in asking {
                let deadline = watch.listDeadline(member.name, at: asked)
                group.addTask { (member.name, await Self.list(member, deadline: deadline)) }
            }
            var answers: [(String, Result<[RemoteVM], HostError>)] = []
            for await answer in group { answers.append(answer) }
            return answers
        }
        answers.sort { $0.0 < $1.0 }
        var unknown: [String] = []
        for (host, answer) in answers {
            switch answer {
            case .success(let listed):
                let listing = listed.map(VMInfo.init)
                if let leftovers = watch.answered(host, vms: listing) {
                    logger.notice(
                        "lost host answers again; what Flock left there is reconciled",
                        metadata: ["host": "\(host)", "left": "\(leftovers.joined(separator: ", "))"])
                }
                for vm in listing { homes[vm.name] = host }
                vms += listing
                noteAnswer(host, vms: listing.count)
            case .failure(let error):
                noteFailure(host, "listing VMs", error)
                switch watch.silent(host, asked: asked, now: ContinuousClock.now, problem: error.message) {
                case .lastListing(let listing): vms += listing
                case .unknown: unknown.append("cannot list the VMs on host \(host): \(error)")
                case .lost(let cause, let newly):
                    if newly { logger.error("host lost; its clones fail", metadata: ["why": "\(cause)"]) }
                }
            }
        }
        if !unknown.isEmpty { throw FlockError.unavailable(unknown.joined(separator: "; ")) }
        return vms
    }

    private static func list(_ member: Member, deadline: Duration) async -> Result<[RemoteVM], HostError> {
        do throws(HostError) {
            return .success(try await member.host.list(deadline: deadline))
        } catch {
            return .failure(error)
        }
    }

    /// Asks a lost host for its VMs in the background, once at a time; the answer waits in
    /// `probed` for the next listing.
    private func probe(_ member: Member) {
        guard probes[member.name] == nil else { return }
        probes[member.name] = Task {
            let answer = await Self.list(member, deadline: min(member.lostAfter, .seconds(10)))
            self.finishProbe(member.name, answer)
        }
    }

    private func finishProbe(_ host: String, _ answer: Result<[RemoteVM], HostError>) {
        probed[host] = answer
        probes[host] = nil
    }

    /// Names the lost host a clone was on, for the pool's reconcile (see `HostWatch.cause(of:)`).
    public func lostCause(of name: String) -> String? { watch.cause(of: name) }

    public func activate(name: String) async throws -> VMInfo { try await local.activate(name: name) }

    public func resumeParent(name: String) async throws -> String? { try await local.resumeParent(name: name) }

    /// The host a clone runs on, if this hypervisor knows it.
    public func home(of name: String) -> String? { homes[name] }

    public func vmHomes() -> [String: String] { homes }
}

extension HostHello {
    /// What a snapshot of a VM with this machine type and accelerator would record on this host.
    public func compatibility(machine: String, accelerator: Accelerator) -> SnapshotCompatibility {
        SnapshotCompatibility(
            qemuVersion: qemuVersion, machine: machines[machine] ?? machine,
            cpuModel: cpuModel == "default" ? QEMUDriver.defaultCPUModel(accelerator) : cpuModel)
    }
}

extension VMInfo {
    /// A VM as a host listed it.
    public init(_ remote: RemoteVM) {
        self.init(
            name: remote.name, pool: remote.pool, status: Status(rawValue: remote.status) ?? .stopped,
            lineage: remote.lineage, address: remote.address, mac: remote.mac, port: remote.port)
    }
}
