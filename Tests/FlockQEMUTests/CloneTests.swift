import FlockCore
import Foundation
import Testing

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

extension RealVMs {
    /// Real VMs under TCG: one shared parent, cloned in every mode. Serialized, because two cores
    /// do not run many emulated guests at once.
    @Suite(.serialized)
    struct CloneTests {
        static let pool = SharedParent.pool

        private func setUp(maxAge: Duration = .zero) async throws -> (QEMUDriver, VMRecord, String) {
            let (root, parent) = try await SharedParent.shared.get()
            return (QEMUDriver(configuration: SharedParent.configuration(root, maxAge: maxAge)), parent, root)
        }

        private func name(_ suffix: String) -> String { OwnedName.make(pool: Self.pool, suffix: suffix) }

        private func destroyAll(_ driver: QEMUDriver) async throws {
            for vm in try await driver.ownedVMs() where vm.name != SharedParent.name {
                try await driver.destroy(name: vm.name)
            }
        }

        @Test func lazyClonesInheritTheWarmCacheAndGetTheirOwnIdentity() async throws {
            let (driver, parent, root) = try await setUp()
            let parentPort = try #require(parent.port)
            for key in ["lz1", "lz2"] {
                _ = try await HTTP.get("127.0.0.1", parentPort, "/item/\(key)")
            }
            #expect(try await HTTP.get("127.0.0.1", parentPort, "/item/lz1").headers["x-cache"] == "hit")

            let probe = HealthProbe(port: parentPort)
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("lza"), name("lzb")]))
            let health = await probe.stop()
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            #expect(batch.started.map(\.name) == [name("lza"), name("lzb")])
            #expect(health.failed == 0 && health.ok > 0, "parent health during cloning: \(health)")

            var randoms: Set<String> = []
            for vm in batch.started {
                #expect(vm.lineage.mode == .lazy && vm.lineage.parent == parent.name && vm.lineage.snapshot != nil)
                let port = try #require(vm.port)
                let first = try await HTTP.get("127.0.0.1", port, "/item/lz1")
                #expect(first.headers["x-cache"] == "hit", "a lazy clone's first GET of a warmed key must hit")
                let identity = try await HTTP.json("127.0.0.1", port, "/identity")
                #expect(identity["hostname"] as? String == vm.name)
                #expect(identity["clone_id"] as? String == vm.name)
                let stats = try await HTTP.json("127.0.0.1", port, "/stats")
                #expect(stats["clone_id"] as? String == vm.name)
                if let random = identity["random"] as? String { randoms.insert(random) }
            }
            #expect(randoms.count == 2, "siblings must read different /dev/urandom bytes")
            #expect(try await HTTP.get("127.0.0.1", parentPort, "/healthz").status == 200)

            let snapshots = await driver.snapshots()
            #expect(snapshots.count == 1, "a batch costs one snapshot (one pause)")
            try await destroyAll(driver)
            #expect(await driver.snapshots().isEmpty, "the snapshot goes with its last clone")
            #expect(filesUnder("\(root)/vms").allSatisfy { $0.hasPrefix(SharedParent.name) })
        }

        @Test func eagerClonesInheritTheWarmCache() async throws {
            let (driver, parent, _) = try await setUp()
            let parentPort = try #require(parent.port)
            _ = try await HTTP.get("127.0.0.1", parentPort, "/item/eg1")
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .eager, names: [name("ega")]))
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            let vm = try #require(batch.started.first)
            #expect(vm.lineage.mode == .eager)
            let port = try #require(vm.port)
            #expect(try await HTTP.get("127.0.0.1", port, "/item/eg1").headers["x-cache"] == "hit")
            #expect(try await HTTP.json("127.0.0.1", port, "/identity")["clone_id"] as? String == vm.name)
            try await destroyAll(driver)
        }

        /// A clone whose restore stays silent (here its QEMU is SIGSTOPped once the driver connects
        /// to its agent, after `cont`) is restored once more, from a snapshot taken for it: the batch still starts both
        /// clones warm, the sibling from the first snapshot, and the silent QEMU is gone.
        @Test func aSilentRestoreIsRetriedFromANewSnapshot() async throws {
            let (_, parent, root) = try await setUp()
            var configuration = SharedParent.configuration(root)
            configuration.agentTimeout = .seconds(12)  // not 30: the stopped clone waits it out in full
            let driver = QEMUDriver(configuration: configuration)
            let parentPort = try #require(parent.port)
            _ = try await HTTP.get("127.0.0.1", parentPort, "/item/rt1")
            let victim = name("rta")
            let victimPaths = VMPaths(root: root, name: victim)
            let stopper = signalClone(victimPaths, SIGSTOP) { unixSocketEnds(victimPaths.agentSocket) >= 2 }
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [victim, name("rtb")]))
            let stopped = try #require(await stopper.value, "the test never saw the clone's QEMU to stop it")
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            #expect(!ProcessTable.isAlive(stopped), "the silent QEMU must be killed")
            let clones = Dictionary(uniqueKeysWithValues: batch.started.map { ($0.name, $0) })
            let retried = try #require(clones[victim]?.lineage)
            let sibling = try #require(clones[name("rtb")]?.lineage)
            #expect(retried.generation > sibling.generation, "\(retried) was not restored from a new snapshot")
            for vm in batch.started {
                let port = try #require(vm.port)
                #expect(try await HTTP.get("127.0.0.1", port, "/item/rt1").headers["x-cache"] == "hit")
                #expect(try await HTTP.json("127.0.0.1", port, "/identity")["clone_id"] as? String == vm.name)
            }
            try await destroyAll(driver)
            #expect(await driver.snapshots().isEmpty, "both snapshots go with their last clones")
        }

        @Test func aLiveTemplateFreezeAlsoGivesWarmLazyClones() async throws {
            let (_, parent, root) = try await setUp()
            var configuration = SharedParent.configuration(root)
            configuration.lazyFreeze = .liveTemplate
            let driver = QEMUDriver(configuration: configuration)
            let parentPort = try #require(parent.port)
            _ = try await HTTP.get("127.0.0.1", parentPort, "/item/tp1")
            let probe = HealthProbe(port: parentPort)
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("tpa"), name("tpb")]))
            let health = await probe.stop()
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            #expect(health.failed == 0, "parent health during the live freeze: \(health)")
            let snapshot = try #require(await driver.snapshots().first)
            #expect(snapshot.mode == .lazy && snapshot.pauseMilliseconds > 0)
            #expect(
                !FileManager.default.fileExists(
                    atPath: "\(SnapshotPaths(root: root, id: snapshot.id).directory)/template"),
                "the template is gone")
            for vm in batch.started {
                #expect(try await HTTP.get("127.0.0.1", try #require(vm.port), "/item/tp1").headers["x-cache"] == "hit")
                #expect(
                    try await HTTP.json("127.0.0.1", try #require(vm.port), "/identity")["clone_id"] as? String
                        == vm.name)
            }
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func coldClonesBootWithAColdCache() async throws {
            let (driver, parent, _) = try await setUp()
            _ = try await HTTP.get("127.0.0.1", try #require(parent.port), "/item/cd1")
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .cold, names: [name("cda")]))
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            let vm = try #require(batch.started.first)
            #expect(vm.lineage.mode == .cold && vm.lineage.snapshot == nil)
            let port = try #require(vm.port)
            #expect(try await HTTP.get("127.0.0.1", port, "/item/cd1").headers["x-cache"] == "miss")
            #expect(try await HTTP.json("127.0.0.1", port, "/identity")["hostname"] as? String == vm.name)
            #expect(await driver.snapshots().isEmpty)
            try await destroyAll(driver)
        }

        @Test func aYoungSnapshotIsReusedWithoutPausingTheParentAgain() async throws {
            let (driver, parent, _) = try await setUp(maxAge: .seconds(300))
            let first = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("rua")]))
            let generation = await driver.record(named: parent.name)?.generation
            let second = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("rub")]))
            #expect(first.failed.isEmpty && second.failed.isEmpty)
            #expect(
                await driver.record(named: parent.name)?.generation == generation, "reuse must not take a new snapshot")
            #expect(first.started.first?.lineage.snapshot == second.started.first?.lineage.snapshot)
            let snapshot = try #require(first.started.first?.lineage.snapshot)
            #expect(await driver.snapshotUsers(snapshot) == 2)
            let paths = SnapshotPaths(root: driver.configuration.stateRoot, id: snapshot)
            #expect(try permissions(paths.directory) == 0o700)
            #expect(try permissions(paths.memory) == 0o600)
            #expect(try permissions(paths.state) == 0o600)
            try await driver.destroy(name: name("rua"))
            #expect(FileManager.default.fileExists(atPath: paths.memory), "still used by the second clone")
            try await driver.destroy(name: name("rub"))
            #expect(!FileManager.default.fileExists(atPath: paths.directory), "deleted with its last clone")
        }

        @Test func destroyLeavesNoProcessSocketOrFile() async throws {
            let (driver, parent, root) = try await setUp()
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("dsa")]))
            let vm = try #require(batch.started.first)
            let paths = VMPaths(root: root, name: vm.name)
            let pid = try #require(QEMUDriver.pid(paths))
            #expect(ProcessTable.isAlive(pid))
            #expect(try permissions(paths.directory) == 0o700)
            try await driver.destroy(name: vm.name)
            #expect(!ProcessTable.isAlive(pid))
            #expect(!FileManager.default.fileExists(atPath: paths.directory))
            #expect(filesUnder("\(root)/snapshots").isEmpty)
            #expect(try await driver.ownedVMs().map(\.name) == [SharedParent.name])
            try await driver.destroy(name: vm.name)  // already gone: a no-op
        }

        @Test func parentsAndForeignNamesAreNeverDestroyed() async throws {
            let (driver, parent, _) = try await setUp()
            let refusedParent = await #expect(throws: QEMUError.self) { try await driver.destroyClone(parent.name) }
            #expect(refusedParent?.isRefused == true)
            let refusedForeign = await #expect(throws: QEMUError.self) { try await driver.destroyClone("web-server-1") }
            #expect(refusedForeign?.isRefused == true)
            #expect(try await HTTP.get("127.0.0.1", try #require(parent.port), "/healthz").status == 200)
        }

        @Test func badNamesAndMissingParentsAreReported() async throws {
            let (driver, parent, _) = try await setUp()
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: ["flock-other-x1", "qt-1"]))
            #expect(batch.started.isEmpty)
            #expect(batch.failed.count == 2)
            let missing = await #expect(throws: QEMUError.self) {
                try await driver.cloneBatch(
                    CloneRequest(pool: Self.pool, parent: "no-such-parent", mode: .lazy, names: [name("nx")]))
            }
            #expect(missing?.isNotFound == true)
            #expect(await driver.snapshots().isEmpty)
        }

        @Test func aCorruptSnapshotFailsTheCloneCleanly() async throws {
            let (driver, parent, root) = try await setUp(maxAge: .seconds(300))
            let good = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("csa")]))
            let snapshot = try #require(good.started.first?.lineage.snapshot)
            let state = SnapshotPaths(root: root, id: snapshot).state
            try Data("this is not a migration stream".utf8).write(to: URL(fileURLWithPath: state))
            let bad = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("csb")]))
            #expect(bad.started.isEmpty)
            let reason = try #require(bad.failed[name("csb")])
            #expect(reason.contains("restore from snapshot \(snapshot)"), "\(reason)")
            #expect(reason.contains("load of migration failed"), "QEMU's own reason is kept: \(reason)")
            #expect(!FileManager.default.fileExists(atPath: VMPaths(root: root, name: name("csb")).directory))
            // The first clone keeps serving from its private mapping.
            #expect(try await HTTP.get("127.0.0.1", try #require(good.started.first?.port), "/healthz").status == 200)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func aSnapshotDeletedUnderAClone() async throws {
            let (driver, parent, root) = try await setUp(maxAge: .seconds(300))
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("sda")]))
            let vm = try #require(batch.started.first)
            let snapshot = try #require(vm.lineage.snapshot)
            let record = try #require(await driver.snapshots().first { $0.id == snapshot })
            try FileManager.default.removeItem(atPath: SnapshotPaths(root: root, id: snapshot).directory)
            // The running clone maps its memory privately; the deleted file stays alive under it.
            #expect(try await HTTP.get("127.0.0.1", try #require(vm.port), "/healthz").status == 200)
            // Restoring from the deleted snapshot is a clear error and leaves nothing behind.
            let error = await #expect(throws: QEMUError.self) {
                try await driver.restoreClone(name("sdb"), parent: parent, snapshot: record)
            }
            #expect(error?.isSnapshot == true && error?.message.contains(snapshot) == true)
            #expect(!FileManager.default.fileExists(atPath: VMPaths(root: root, name: name("sdb")).directory))
            // A later batch does not reuse the broken snapshot: it takes a new one.
            let next = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("sdc")]))
            #expect(next.failed.isEmpty, "\(next.failed)")
            #expect(next.started.first?.lineage.snapshot != snapshot)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func qemuKilledMidCloneIsReportedAndCleanedUp() async throws {
            let (driver, parent, root) = try await setUp()
            let victim = name("kla")
            let victimPaths = VMPaths(root: root, name: victim)
            let killer = signalClone(victimPaths, SIGKILL)
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [victim, name("klb")]))
            #expect(await killer.value != nil, "the test never saw the clone's QEMU to kill it")
            #expect(batch.failed[victim] != nil, "killed clone must be reported: \(batch)")
            #expect(batch.started.map(\.name) == [name("klb")])
            #expect(!FileManager.default.fileExists(atPath: victimPaths.directory))
            #expect(try await HTTP.get("127.0.0.1", try #require(parent.port), "/healthz").status == 200)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func aRestartedDriverAdoptsRunningVMs() async throws {
            let (driver, parent, root) = try await setUp()
            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("ada"), name("adb")]))
            #expect(batch.failed.isEmpty)
            let alivePid = try #require(QEMUDriver.pid(VMPaths(root: root, name: name("ada"))))
            let deadPid = try #require(QEMUDriver.pid(VMPaths(root: root, name: name("adb"))))
            kill(deadPid, SIGKILL)
            _ = await ProcessTable.waitGone(deadPid, timeout: .seconds(5))

            let restarted = QEMUDriver(configuration: SharedParent.configuration(root))
            let adopted = try await restarted.adopt()
            #expect(Set(adopted.map(\.record.name)) == [parent.name, name("ada")])
            #expect(adopted.first { $0.record.name == name("ada") }?.pid == alivePid, "adopted, not restarted")
            #expect(
                !FileManager.default.fileExists(atPath: VMPaths(root: root, name: name("adb")).directory),
                "dead clone cleaned up")
            #expect(try await HTTP.get("127.0.0.1", try #require(batch.started.first?.port), "/healthz").status == 200)
            #expect(try await restarted.ownedVMs().count == 2)
            try await restarted.destroy(name: name("ada"))
            #expect(!ProcessTable.isAlive(alivePid))
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }
    }
}

func permissions(_ path: String) throws -> Int {
    (((try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? NSNumber)?.intValue ?? -1) & 0o777
}

extension RealVMs.CloneTests {
    /// Through the `Hypervisor` protocol, the core's error types come back for what it describes.
    @Test func theHypervisorProtocolThrowsCoreErrors() async throws {
        let (driver, parent, _) = try await setUp()
        let hypervisor: any Hypervisor = driver
        await #expect(throws: FlockError.self) {
            _ = try await hypervisor.clone(
                CloneRequest(pool: Self.pool, parent: "gone-parent", mode: .lazy, names: [name("hp")]))
        }
        let refused = await #expect(throws: FlockError.self) { try await hypervisor.destroy(name: parent.name) }
        #expect(refused?.isConflict == true)
        try await hypervisor.destroy(name: name("neverexisted"))  // gone already: a no-op
    }
}

/// How many sockets the kernel lists under a Unix socket path: the listener, plus one per
/// accepted connection (`/proc/net/unix`).
private func unixSocketEnds(_ path: String) -> Int {
    guard let table = try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8) else { return 0 }
    return table.split(separator: "\n").filter { $0.hasSuffix(" " + path) }.count
}

/// Sends `signal` to a clone's QEMU as soon as it runs and `when` holds (polled every 2 ms, for
/// at most 4 s); the task's value is the pid signalled, nil if it never was.
private func signalClone(
    _ paths: VMPaths, _ signal: Int32, when: @escaping @Sendable () -> Bool = { true }
) -> Task<pid_t?, Never> {
    Task {
        for _ in 0..<2000 {
            if when(), let pid = QEMUDriver.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket) {
                kill(pid, signal)
                return pid
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }
}
