import FlockCore
import Foundation
import Testing

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

extension RealVMs {
    /// Standby clones of the shared parent under TCG: restored and paused, then activated into
    /// ordinary lazy clones, destroyed, killed and adopted like any clone.
    @Suite(.serialized)
    struct StandbyTests {
        static let pool = SharedParent.pool

        private func setUp() async throws -> (QEMUDriver, VMRecord, String) {
            let (root, parent) = try await SharedParent.shared.get()
            return (QEMUDriver(configuration: SharedParent.configuration(root)), parent, root)
        }

        private func name(_ suffix: String) -> String { OwnedName.make(pool: Self.pool, suffix: suffix) }

        private func standbys(_ driver: QEMUDriver, _ parent: VMRecord, _ names: [String]) async throws -> CloneBatch {
            try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: names, standby: true))
        }

        private func destroyAll(_ driver: QEMUDriver) async throws {
            for vm in try await driver.ownedVMs() where vm.name != SharedParent.name {
                try await driver.destroy(name: vm.name)
            }
        }

        private func qmpStatus(_ root: String, _ name: String) async throws -> String? {
            let qmp = try await QMPClient.connect(path: VMPaths(root: root, name: name).qmpSocket, timeout: .seconds(5))
            defer { qmp.close() }
            return try await qmp.execute("query-status")["status"]?.stringValue
        }

        @Test func aStandbyWaitsPausedThenActivatesIntoAWarmClone() async throws {
            let (driver, parent, root) = try await setUp()
            let parentPort = try #require(parent.port)
            _ = try await HTTP.get("127.0.0.1", parentPort, "/item/sb1")
            #expect(try await HTTP.get("127.0.0.1", parentPort, "/item/sb1").headers["x-cache"] == "hit")

            let before = Date()
            let batch = try await standbys(driver, parent, [name("sba")])
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            let waiting = try #require(batch.started.first)
            let standby = try #require(waiting.standby, "a standby request makes standbys")
            #expect(waiting.status == .paused)
            // Stamped to the second, as the record on disk keeps it.
            #expect(standby.createdAt > before - 1 && standby.frozenAt <= standby.createdAt)
            let snapshot = try #require(waiting.lineage.snapshot)
            #expect(waiting.lineage.mode == .lazy && waiting.lineage.parent == parent.name)
            #expect(await driver.snapshotUsers(snapshot) == 1, "the standby keeps its snapshot")

            let listed = try #require(await driver.list().first { $0.record.name == waiting.name })
            #expect(listed.status == .paused && listed.record.standby == standby)
            #expect(try await driver.ownedVMs().first { $0.name == waiting.name }?.standby == standby)
            // vCPUs never ran: QEMU holds it stopped, and the app cannot answer.
            let status = try await qmpStatus(root, waiting.name)
            #expect(status != "running", "a standby's QMP status is \(status ?? "none")")
            let port = try #require(waiting.port)
            await #expect(throws: (any Error).self, "a paused standby must not answer HTTP") {
                _ = try await HTTP.get("127.0.0.1", port, "/healthz", timeout: .seconds(2))
            }

            let active = try await driver.activate(name: waiting.name)
            #expect(active.standby == nil && active.status == .running)
            #expect(active.lineage == waiting.lineage, "an activated standby is a clone of the same snapshot")
            #expect(try await qmpStatus(root, waiting.name) == "running")
            #expect(await driver.record(named: waiting.name)?.standby == nil)
            #expect(await driver.list().first { $0.record.name == waiting.name }?.status == .running)
            let identity = try await HTTP.json("127.0.0.1", port, "/identity")
            #expect(identity["clone_id"] as? String == waiting.name)
            #expect(identity["hostname"] as? String == waiting.name)
            let warmed = try await HTTP.get("127.0.0.1", port, "/item/sb1")
            #expect(warmed.headers["x-cache"] == "hit", "the key warmed before the snapshot must hit")

            let again = await #expect(throws: QEMUError.self, "an activated standby is no longer one") {
                try await driver.activateStandby(waiting.name)
            }
            #expect(again?.isRefused == true && again?.message.contains("not a standby") == true)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        /// What the guest wrote to its console since the last read (QEMU's ring buffer).
        private func console(_ root: String, _ name: String) async throws -> String {
            let qmp = try await QMPClient.connect(path: VMPaths(root: root, name: name).qmpSocket, timeout: .seconds(5))
            defer { qmp.close() }
            let text = try await qmp.execute(
                "ringbuf-read", arguments: ["device": "console", "size": 65536, "format": "utf8"])
            return text.stringValue ?? ""
        }

        @Test func aWarmedStandbyRanItsIdentityPathOnceAndActivatesWithAFreshIdentity() async throws {
            let (_, parent, root) = try await setUp()
            var configuration = SharedParent.configuration(root)
            configuration.warmStandbys = true
            let driver = QEMUDriver(configuration: configuration)
            let batch = try await standbys(driver, parent, [name("swa")])
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            let waiting = try #require(batch.started.first)
            #expect(waiting.standby != nil && waiting.status == .paused)
            #expect(try await qmpStatus(root, waiting.name) != "running", "paused again after its warm-up")
            let port = try #require(waiting.port)
            await #expect(throws: (any Error).self, "a warmed standby must not answer HTTP") {
                _ = try await HTTP.get("127.0.0.1", port, "/healthz", timeout: .seconds(2))
            }
            let warmUp = try await console(root, waiting.name)
            #expect(warmUp.contains("identity applied: \(waiting.name)"), "the warm-up applied an identity: \(warmUp)")

            let active = try await driver.activate(name: waiting.name)
            #expect(active.status == .running && active.standby == nil)
            let activation = try await console(root, waiting.name)
            #expect(activation.contains("identity applied: \(waiting.name)"), "activation applies a fresh identity")
            let identity = try await HTTP.json("127.0.0.1", port, "/identity")
            #expect(identity["clone_id"] as? String == waiting.name && identity["hostname"] as? String == waiting.name)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func destroyingAStandbyLeavesNothingAndReleasesItsSnapshot() async throws {
            let (driver, parent, root) = try await setUp()
            let batch = try await standbys(driver, parent, [name("sda"), name("sdb")])
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            #expect(batch.started.allSatisfy { $0.standby != nil && $0.status == .paused })
            let snapshot = try #require(batch.started.first?.lineage.snapshot)
            let snapshotPaths = SnapshotPaths(root: root, id: snapshot)
            let pids = batch.started.compactMap { QEMUDriver.pid(VMPaths(root: root, name: $0.name)) }
            #expect(pids.count == 2 && pids.allSatisfy(ProcessTable.isAlive))

            try await driver.destroy(name: name("sda"))
            #expect(FileManager.default.fileExists(atPath: snapshotPaths.memory), "still used by the other standby")
            try await driver.destroy(name: name("sdb"))
            for pid in pids { #expect(!ProcessTable.isAlive(pid)) }
            #expect(!FileManager.default.fileExists(atPath: snapshotPaths.directory), "released with its last standby")
            #expect(filesUnder("\(root)/vms").allSatisfy { $0.hasPrefix(SharedParent.name) })
            #expect(try await driver.ownedVMs().map(\.name) == [SharedParent.name])
        }

        @Test func aKilledStandbyIsReportedStoppedAndARestartAdoptsTheLiveOne() async throws {
            let (driver, parent, root) = try await setUp()
            let batch = try await standbys(driver, parent, [name("ska"), name("skb")])
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            let deadPid = try #require(QEMUDriver.pid(VMPaths(root: root, name: name("skb"))))
            kill(deadPid, SIGKILL)
            _ = await ProcessTable.waitGone(deadPid, timeout: .seconds(5))

            let dead = try #require(try await driver.ownedVMs().first { $0.name == name("skb") })
            #expect(dead.status == .stopped, "a standby whose QEMU died is dead, not waiting")
            #expect(dead.standby != nil)
            let refused = await #expect(throws: QEMUError.self) { try await driver.activateStandby(name("skb")) }
            #expect(refused?.isNotFound == true && refused?.message.contains("not running") == true)

            let restarted = QEMUDriver(configuration: SharedParent.configuration(root))
            let adopted = try await restarted.adopt()
            let live = try #require(adopted.first { $0.record.name == name("ska") })
            #expect(live.status == .paused && live.record.standby != nil, "adopted as a standby")
            #expect(!adopted.contains { $0.record.name == name("skb") })
            #expect(!FileManager.default.fileExists(atPath: VMPaths(root: root, name: name("skb")).directory))
            // The adopted standby still activates.
            let active = try await restarted.activate(name: name("ska"))
            #expect(active.status == .running)
            let port = try #require(active.port)
            #expect(try await HTTP.json("127.0.0.1", port, "/identity")["clone_id"] as? String == name("ska"))
            try await destroyAll(restarted)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }

        @Test func onlyStandbysCanBeActivatedAndOnlyLazyClonesCanBeStandbys() async throws {
            let (driver, parent, root) = try await setUp()
            let hypervisor: any Hypervisor = driver
            let unknown = await #expect(throws: FlockError.self) {
                _ = try await hypervisor.activate(name: self.name("nosuch"))
            }
            #expect(unknown?.isNotFound == true)
            let ofParent = await #expect(throws: FlockError.self) {
                _ = try await hypervisor.activate(name: parent.name)
            }
            #expect(ofParent?.isConflict == true && ofParent?.message.contains("a parent, not a standby") == true)
            #expect(try await HTTP.get("127.0.0.1", try #require(parent.port), "/healthz").status == 200)

            let eager = await #expect(throws: FlockError.self) {
                _ = try await hypervisor.clone(
                    CloneRequest(
                        pool: Self.pool, parent: parent.name, mode: .eager, names: [self.name("sea")], standby: true))
            }
            #expect(eager?.isConflict == true && eager?.message.contains("must be lazy") == true)
            #expect(await driver.snapshots().isEmpty, "a refused request takes no snapshot")

            let clone = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [name("sna")]))
            #expect(clone.failed.isEmpty, "\(clone.failed)")
            let ofClone = await #expect(throws: FlockError.self) {
                _ = try await hypervisor.activate(name: self.name("sna"))
            }
            #expect(ofClone?.isConflict == true && ofClone?.message.contains("already runs") == true)
            try await destroyAll(driver)
            #expect(filesUnder("\(root)/snapshots").isEmpty)
        }
    }
}
