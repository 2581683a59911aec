import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

/// The three clone modes on the Debian guest (systemd, nginx proxy_cache, flock-agent from its
/// .deb), under TCG, all cloned from one warm parent. What is checked comes from the guest's
/// off-the-shelf parts: nginx's `X-Cache-Status` ($upstream_cache_status), not Flock's code.
@Suite(.serialized)
struct DebianCloneTests {
    /// The driver's log, where it records the clone hooks each agent's ack reported.
    private let log = Locked<[String]>([])

    private func setUp() async throws -> (QEMUDriver, DebianParent.Started, Int) {
        let started = try await DebianParent.shared.get()
        let driver = QEMUDriver(
            configuration: DebianParent.configuration(started.root) { [log] line in log.withLock { $0.append(line) } })
        return (driver, started, try #require(started.record.port))
    }

    /// Clones one VM and times it from the request to its first answer for a warmed key.
    private func cloneOne(
        _ driver: QEMUDriver, mode: CloneMode, suffix: String
    ) async throws -> (vm: VMInfo, port: Int, firstStatus: String?) {
        let name = OwnedName.make(pool: DebianParent.pool, suffix: suffix)
        let clock = ContinuousClock()
        let asked = clock.now
        let batch = try await driver.clone(
            CloneRequest(pool: DebianParent.pool, parent: DebianParent.name, mode: mode, names: [name]))
        #expect(batch.failed.isEmpty, "\(batch.failed)")
        let vm = try #require(batch.started.first)
        let port = try #require(vm.port)
        let first = try await HTTP.get(port, "/item/\(DebianParent.warmKeys[0])")
        #expect(first.status == 200)
        print(
            "debian-guest: \(mode) clone-to-serving \(DebianParent.seconds(clock.now - asked)) s (clone to first 200)")
        return (vm, port, first.headers["x-cache-status"])
    }

    /// The clone took the identity the agent acknowledged: its hostname and clone id; and the
    /// image's clone hook (`/etc/flock/clone.d/50-nginx-reload`, from the image) ran and passed,
    /// as the agent's ack told the driver.
    private func expectIdentity(_ vm: VMInfo, port: Int) async throws {
        let identity = try await HTTP.json(port, "/identity")
        #expect(identity["hostname"] as? String == vm.name)
        #expect(identity["clone_id"] as? String == vm.name)
        let hooks = log.withLock { $0 }.filter { $0.hasPrefix("clone \(vm.name) ran its clone hooks:") }
        #expect(hooks == ["clone \(vm.name) ran its clone hooks: 50-nginx-reload (exit 0)"], "\(hooks)")
    }

    /// Destroys a clone and checks nothing of it is left: no QEMU process, no directory, no
    /// snapshot, only the parent's files under the state root; and the image never written.
    private func destroyAndExpectNothingLeft(
        _ driver: QEMUDriver, _ vm: VMInfo, _ started: DebianParent.Started
    )
        async throws
    {
        try await driver.destroy(name: vm.name)
        let directory = VMPaths(root: started.root, name: vm.name).directory
        #expect(HostFacts.processes(mentioning: directory + "/").isEmpty, "no QEMU process of \(vm.name) is left")
        #expect(!FileManager.default.fileExists(atPath: directory))
        #expect(try await driver.ownedVMs().map(\.name) == [DebianParent.name])
        #expect(await driver.snapshots().isEmpty, "the snapshot goes with its last clone")
        #expect(HostFacts.files(under: "\(started.root)/vms").allSatisfy { $0.hasPrefix(DebianParent.name) })
        #expect(try await HostFacts.sha256(DebianImage.disk) == started.imageSHA, "the image is never written")
    }

    @Test func aLazyCloneServesTheParentsWarmCacheAndWritesToItsOwnOverlay() async throws {
        let (driver, started, parentPort) = try await setUp()
        let (vm, port, firstStatus) = try await cloneOne(driver, mode: .lazy, suffix: "lazy")
        #expect(firstStatus == "HIT", "a lazy clone's first request for a warmed key is an nginx cache hit")
        try await expectIdentity(vm, port: port)
        let parentBoot = try await HTTP.json(parentPort, "/identity")["boot_id"] as? String
        #expect(
            try await HTTP.json(port, "/identity")["boot_id"] as? String == parentBoot,
            "a restored clone keeps the parent's boot_id (the README tells applications so)")

        // systemd's writes (the journal of the agent, the hook, nginx's reload) land on the
        // clone's own overlay, which sits on the parent's frozen layer.
        let overlay = "\(VMPaths(root: started.root, name: vm.name).directory)/disk.qcow2"
        let frozen = try #require(
            await driver.snapshots().first?.disk, "the lazy clone's snapshot records a disk layer")
        #expect(try await backing(of: overlay) == frozen)
        let before = HostFacts.allocatedBytes(overlay)
        #expect(before > 0)
        let grew = await eventually(timeout: .seconds(90), every: .seconds(1)) {
            HostFacts.allocatedBytes(overlay) > before
        }
        #expect(grew, "the clone's overlay grows as its systemd writes (\(before) bytes allocated at first)")
        #expect(try await HTTP.get(parentPort, "/healthz").status == 200)
        try await destroyAndExpectNothingLeft(driver, vm, started)
    }

    @Test func anEagerCloneServesTheParentsWarmCache() async throws {
        let (driver, started, _) = try await setUp()
        let (vm, port, firstStatus) = try await cloneOne(driver, mode: .eager, suffix: "eager")
        #expect(firstStatus == "HIT", "an eager clone's first request for a warmed key is an nginx cache hit")
        try await expectIdentity(vm, port: port)
        try await destroyAndExpectNothingLeft(driver, vm, started)
    }

    /// A cold clone boots the image afresh: it gets its identity, but nginx's cache starts empty,
    /// which is the difference warm clones exist for.
    @Test func aColdCloneBootsWithAnEmptyCache() async throws {
        let (driver, started, _) = try await setUp()
        let (vm, port, firstStatus) = try await cloneOne(driver, mode: .cold, suffix: "cold")
        #expect(firstStatus == "MISS", "a cold clone has no warm state: its first request misses")
        #expect(try await HTTP.cacheStatus(port, "/item/\(DebianParent.warmKeys[0])") == "HIT")
        try await expectIdentity(vm, port: port)
        let overlay = "\(VMPaths(root: started.root, name: vm.name).directory)/disk.qcow2"
        #expect(try await backing(of: overlay) == DebianImage.disk, "a cold clone's overlay sits on the image")
        try await destroyAndExpectNothingLeft(driver, vm, started)
    }

    /// The backing file of a qcow2 image, read with `qemu-img info -U` (the image is in use).
    private func backing(of image: String) async throws -> String? {
        let outcome = try await ChildProcess.run("qemu-img", ["info", "-U", "--output=json", image])
        guard outcome.status == 0 else { return nil }
        let json = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        return json?["backing-filename"] as? String
    }
}
