import FlockCore
import FlockSystem
import Foundation
import Logging

/// Flock's QEMU hypervisor driver: starts parents, forks them into clones, destroys clones.
///
/// All state lives on disk under the state root (one directory per VM, one per snapshot), so
/// any process (the daemon, `flockctl`, a restarted daemon) sees the same VMs, and a restart
/// adopts running VMs instead of duplicating or killing them. QEMU runs daemonized for the same
/// reason: VMs outlive the process that started them. The driver holds no QMP connection
/// between operations, because QEMU serves one QMP client at a time.
public actor QEMUDriver: Hypervisor {
    public nonisolated let configuration: QEMUDriverConfiguration
    /// Snapshots in use by a batch in this process, so they are not deleted mid-batch.
    var pins: [String: Int] = [:]
    /// A snapshot being taken per parent and mode, so concurrent batches share one pause.
    var snapshotsInFlight: [String: Task<SnapshotRecord, any Error>] = [:]
    /// Snapshots whose files are being written, never swept as unused.
    var creating: Set<String> = []
    /// Parents whose disk chain is being compacted; a snapshot of one waits for it.
    var compacting: Set<String> = []
    /// The state root's lock, from the first operation that changes VMs; see `prepareRoot()`.
    var rootLock: ExclusiveLock?
    /// What `qemu --version` and `-machine help` said, asked once per driver.
    var qemuFacts: QEMUFacts?
    /// Standbys being activated right now, so that two callers cannot both start one.
    var activating: Set<String> = []

    public init(configuration: QEMUDriverConfiguration = QEMUDriverConfiguration()) {
        self.configuration = configuration
    }

    nonisolated var root: String { configuration.stateRoot }
    nonisolated func paths(_ name: String) -> VMPaths { VMPaths(root: root, name: name) }
    nonisolated func snapshotPaths(_ id: String) -> SnapshotPaths { SnapshotPaths(root: root, id: id) }

    /// Checks that the state root is private (creating it 0700 if missing), takes its lock, and
    /// creates its subdirectories. Every operation that changes VMs starts here; listing does not,
    /// so `flockctl vm list` works beside a running flockd.
    ///
    /// The lock (`<stateRoot>/lock`) is kept until `releaseStateRoot()` or until the driver goes:
    /// a second process acting on the same VMs would pin, delete or resume what this one is
    /// using. Drivers in one process share it (see `ExclusiveLock.shared`).
    func prepareRoot() throws(QEMUError) {
        guard QEMUDriverConfiguration.isSafePath(root) else {
            throw .invalidSpec(
                "state root '\(root)' must be an absolute path of [A-Za-z0-9/._-] (it is passed to QEMU unquoted)")
        }
        do {
            try createPrivateDirectory(root)
        } catch {
            throw .refused("the QEMU state root cannot be used: \(error)")
        }
        if rootLock == nil {
            do {
                rootLock = try ExclusiveLock.shared(path: "\(root)/lock")
            } catch {
                throw .refused("the QEMU state root \(root) is in use: \(error)")
            }
        }
        for directory in ["\(root)/vms", "\(root)/snapshots"] {
            do {
                try createPrivateDirectory(directory)
            } catch {
                throw .refused("the QEMU state root cannot be used: \(error)")
            }
        }
    }

    /// Lets go of the state root's lock, for a process that hands its VMs to another one (the
    /// demo boots the parent, then runs flockd on the same root). The next operation that
    /// changes VMs takes it again, and is refused while the other process holds it.
    public func releaseStateRoot() {
        rootLock = nil
    }

    // MARK: - listing

    /// Every VM under the state root, parents included, with whether its QEMU still runs. A
    /// standby whose QEMU runs is `paused` (its vCPUs never ran); any VM whose QEMU is gone is
    /// `stopped`.
    public func list() -> [VMStatusReport] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/vms")) ?? []
        return names.sorted().compactMap { name in
            let paths = paths(name)
            guard let record = JSONFile.read(VMRecord.self, from: paths.metadata), record.name == name else {
                return nil
            }
            let pid = Self.pid(paths)
            let alive = pid.map { ProcessTable.isOurs($0, marker: paths.qmpSocket) } ?? false
            let status: VMInfo.Status = alive ? (record.standby == nil ? .running : .paused) : .stopped
            return VMStatusReport(record: record, pid: alive ? pid : nil, status: status)
        }
    }

    /// The record of one VM, if the driver knows it.
    public func record(named name: String) -> VMRecord? {
        guard VMSpec.isValidName(name) else { return nil }
        return JSONFile.read(VMRecord.self, from: paths(name).metadata)
    }

    public func ownedVMs() async throws -> [VMInfo] {
        list().filter { OwnedName.isFlockName($0.record.name) }.map(\.info)
    }

    /// Takes over VMs left by an earlier driver: running ones, standbys too, are kept (their QMP must answer),
    /// clones whose QEMU is gone are cleaned up, and unused snapshots are deleted.
    ///
    /// Returns the VMs that run, parents included.
    public func adopt() async throws -> [VMStatusReport] {
        try prepareRoot()
        var adopted: [VMStatusReport] = []
        for report in list() {
            let paths = paths(report.record.name)
            if report.status != .stopped {
                do {
                    var adoptedReport = report
                    if report.record.role == .parent {
                        // No snapshot of this process can be under way yet: a paused parent was left
                        // so by a process that crashed mid-snapshot (or by someone), and serves nobody.
                        _ = try await resumeParentIfStopped(report.record.name)
                    } else {
                        let qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(3))
                        defer { qmp.close() }
                        let status = try await qmp.execute("query-status")
                        adoptedReport.status = status["running"]?.boolValue == true ? .running : .paused
                    }
                    adopted.append(adoptedReport)
                } catch {
                    configuration.logger.warning(
                        "VM \(report.record.name) runs but its QMP does not answer (\(error)); leaving it alone")
                    adopted.append(report)
                }
            } else if report.record.role == .clone && OwnedName.isFlockName(report.record.name) {
                configuration.logger.info("clone \(report.record.name) is no longer running; removing its files")
                try? await destroy(name: report.record.name)
            }
        }
        sweepUnusedSnapshots()
        await compactParentDisks()
        return adopted
    }

    public func resumeParent(name: String) async throws -> String? {
        do {
            return try await resumeParentIfStopped(name)
        } catch {
            throw error.asFlockError
        }
    }

    /// See `resumeParent(name:)`; typed for callers that want `QEMUError`.
    ///
    /// Never touches a parent that this driver is snapshotting: its pause is the snapshot's. A
    /// snapshot started here while this waits for QMP cannot pause the parent before this closes
    /// its connection (QEMU serves one QMP client at a time), so checking again once connected
    /// is enough; other processes are kept out by the state root's lock.
    func resumeParentIfStopped(_ name: String) async throws(QEMUError) -> String? {
        try prepareRoot()
        // A compaction holds the parent's one QMP connection, and keeps it running meanwhile.
        guard !snapshotInFlight(of: name), !compacting.contains(name) else { return nil }
        let paths = paths(name)
        guard VMSpec.isValidName(name), let record = JSONFile.read(VMRecord.self, from: paths.metadata),
            record.role == .parent, let pid = Self.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket)
        else { throw .notFound(name) }
        let qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(3))
        defer { qmp.close() }
        let status = try await qmp.execute("query-status")
        guard status["running"]?.boolValue != true, !snapshotInFlight(of: name) else { return nil }
        let found = status["status"]?.stringValue ?? "paused"
        try await cancelOrphanedMigration(qmp, of: name)
        try await resume(qmp)
        configuration.logger.warning("parent \(name) was \(found) with no snapshot under way; resumed it")
        return found
    }

    func snapshotInFlight(of parent: String) -> Bool {
        snapshotsInFlight.keys.contains { $0.hasPrefix("\(parent)|") }
    }

    /// Cancels a migration that a stopped parent is still in: a process that crashed mid-snapshot
    /// can leave one waiting for ever (an eager snapshot with a disk stops at `pre-switchover`
    /// for the process to freeze the disk), and `cont` cannot run a VM that is mid-migration.
    func cancelOrphanedMigration(_ qmp: QMPClient, of name: String) async throws(QEMUError) {
        let settled: Set<String> = ["none", "completed", "failed", "cancelled"]
        var migration = try await qmp.execute("query-migrate")["status"]?.stringValue ?? "none"
        guard !settled.contains(migration) else { return }
        configuration.logger.warning("parent \(name) is stopped mid-migration (\(migration)); cancelling it")
        try await qmp.execute("migrate_cancel")
        let deadline = ContinuousClock.now + .seconds(5)
        while !settled.contains(migration) {
            guard ContinuousClock.now < deadline else {
                throw .timeout("cancelling the migration of \(name)", after: .seconds(5))
            }
            try? await Task.sleep(for: .milliseconds(10))
            migration = try await qmp.execute("query-migrate")["status"]?.stringValue ?? "none"
        }
    }

    // MARK: - destroying

    /// The `Hypervisor` entry point; refusals (a parent, a name Flock does not own) are thrown
    /// as `FlockError.conflict`.
    public func destroy(name: String) async throws {
        do {
            try await destroyClone(name)
        } catch {
            throw error.asFlockError
        }
    }

    /// Stops a clone and deletes every file it owns; typed for callers that want `QEMUError`.
    func destroyClone(_ name: String) async throws(QEMUError) {
        guard OwnedName.isFlockName(name), VMSpec.isValidName(name) else {
            throw .refused(
                "refusing to destroy '\(name)': Flock only destroys VMs it named \(OwnedName.prefix)<pool>-<id>")
        }
        try prepareRoot()
        let paths = paths(name)
        guard FileManager.default.fileExists(atPath: paths.directory) else { return }  // already gone
        let record = JSONFile.read(VMRecord.self, from: paths.metadata)
        if record?.role == .parent {
            throw .refused("refusing to destroy '\(name)': it is a parent VM (use stopParent)")
        }
        await stopProcess(paths)
        if let tap = record?.tap {
            await Networking.deleteTAP(tap, namespace: configuration.networkNamespace, log: "/dev/null")
        }
        removeDirectory(paths.directory)
        if let snapshot = record?.lineage.snapshot, releaseSnapshotIfUnused(snapshot),
            let parent = record?.lineage.parent
        {
            await compactDisk(ofParent: parent)
        }
    }

    /// Stops a parent and deletes its files (its RAM file included). Clones keep running: a
    /// lazy clone's memory comes from the snapshot, not from the parent.
    public func stopParent(name: String) async throws(QEMUError) {
        try prepareRoot()
        let paths = paths(name)
        guard VMSpec.isValidName(name), let record = JSONFile.read(VMRecord.self, from: paths.metadata) else {
            throw .notFound(name)
        }
        guard record.role == .parent else { throw .refused("'\(name)' is a clone; destroy it instead") }
        await stopProcess(paths)
        if let tap = record.tap {
            await Networking.deleteTAP(tap, namespace: configuration.networkNamespace, log: "/dev/null")
        }
        removeDirectory(paths.directory)
    }

    /// `quit` over QMP, then SIGKILL if QEMU is still there after the timeout. Only a process
    /// whose command line names this VM's QMP socket is ever signalled (pids get reused).
    func stopProcess(_ paths: VMPaths) async {
        guard let pid = Self.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket) else { return }
        if let qmp = try? await QMPClient.connect(
            path: paths.qmpSocket, timeout: .seconds(2), keepTrying: { ProcessTable.isAlive(pid) })
        {
            _ = try? await qmp.execute("quit", timeout: .seconds(2))
            qmp.close()
        }
        if await ProcessTable.waitGone(pid, timeout: configuration.quitTimeout) { return }
        configuration.logger.warning("QEMU \(pid) did not quit within \(configuration.quitTimeout); killing it")
        if ProcessTable.isOurs(pid, marker: paths.qmpSocket) { kill(pid, SIGKILL) }
        _ = await ProcessTable.waitGone(pid, timeout: .seconds(5))
    }

    static func pid(_ paths: VMPaths) -> pid_t? {
        guard let text = try? String(contentsOfFile: paths.pidFile, encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Deletes a directory the driver made; refuses anything outside the state root.
    nonisolated func removeDirectory(_ directory: String) {
        guard
            directory.hasPrefix(root + "/vms/") || directory.hasPrefix(root + "/snapshots/")
                || directory.hasPrefix(root + "/probe")
        else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
