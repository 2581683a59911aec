import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

/// The state root holds guest memory: it must be private to the user Flock runs as, and only
/// one process may act on it. None of this boots a VM.
@Suite struct StateRootTests {
    /// A fresh scratch directory on tmpfs and a state root path inside it that does not exist yet.
    private func scratch() throws -> (base: String, root: String) {
        let base = try tmpfsScratch("root")
        return (base, "\(base)/state")
    }

    @Test func aMissingRootIsCreatedPrivate() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        _ = try await QEMUDriver(configuration: SharedParent.configuration(root)).adopt()
        #expect(try permissions(root) == 0o700)
        #expect(try permissions("\(root)/vms") == 0o700)
        #expect(FileManager.default.fileExists(atPath: "\(root)/lock"))
    }

    @Test func aRootOpenToOthersIsRefusedNotChmodded() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        chmod(root, 0o755)
        let error = await #expect(throws: QEMUError.self) {
            _ = try await QEMUDriver(configuration: SharedParent.configuration(root)).adopt()
        }
        #expect(error?.isRefused == true)
        #expect(error?.message.contains("\(root) has mode 755") == true, "\(String(describing: error))")
        #expect(error?.message.contains("chmod 700 \(root)") == true, "\(String(describing: error))")
        #expect(try permissions(root) == 0o755, "left as found")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/vms"), "nothing created")
    }

    @Test func aSymbolicLinkIsRefused() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let target = "\(base)/elsewhere"
        try FileManager.default.createDirectory(
            atPath: target, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createSymbolicLink(atPath: root, withDestinationPath: target)
        let error = await #expect(throws: FlockError.self) {
            try await QEMUDriver(configuration: SharedParent.configuration(root)).destroy(name: "flock-qt-abc")
        }
        #expect(error?.isConflict == true)
        #expect(error?.message.contains("\(root) is a symbolic link") == true, "\(String(describing: error))")
        #expect(filesUnder(target).isEmpty, "nothing written through the link")
    }

    @Test(.enabled(if: getuid() == 0, "chown needs root"))
    func aRootOwnedByAnotherUserIsRefused() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        #expect(chown(root, 65534, 65534) == 0)
        do {
            try createPrivateDirectory(root)
            Issue.record("a root owned by uid 65534 was accepted")
        } catch {
            #expect(error.description.contains("\(root) is owned by uid 65534, not by uid 0"), "\(error)")
            #expect(error.description.contains("chown 0 \(root)"), "\(error)")
        }
    }

    @Test func aLockedRootIsRefusedNamingTheLockAndItsHolder() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        var holder: ExclusiveLock? = try ExclusiveLock(path: "\(root)/lock")
        let driver = QEMUDriver(configuration: SharedParent.configuration(root))
        let error = await #expect(throws: FlockError.self) { try await driver.destroy(name: "flock-qt-abc") }
        #expect(error?.isConflict == true)
        #expect(
            error?.message.contains("\(root)/lock is locked by process \(getpid())") == true,
            "\(String(describing: error))")
        await #expect(throws: FlockError.self) { _ = try await driver.resumeParent(name: "flock-qt-parent") }
        #expect(await driver.list().isEmpty, "listing needs no lock")
        #expect(holder != nil)
        holder = nil
        _ = try await driver.adopt()  // the holder let go
    }

    /// `flock(1)` in a child holds the lock as another process would (it writes no pid); the
    /// kernel drops it when that process dies, even by SIGKILL, and the root is free again.
    @Test func aRootHeldByAnotherProcessIsFreedWhenItDies() async throws {
        let scratch = try Scratch(tmpfs: "held")
        let root = scratch.path("state")
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let flock = try #require(findExecutable("flock"), "util-linux flock")
        let holder = try await Child.start(
            URL(fileURLWithPath: flock), ["-o", "\(root)/lock", "sleep", "60"], in: scratch, name: "holder")
        defer { holder.process.kill() }
        let driver = QEMUDriver(configuration: SharedParent.configuration(root))
        // -o: only flock(1) itself holds the lock, not the sleep it runs.
        #expect(await eventually(timeout: .seconds(10)) { (try? ExclusiveLock(path: "\(root)/lock")) == nil })
        let error = await #expect(throws: QEMUError.self) { _ = try await driver.adopt() }
        #expect(
            error?.message.contains("\(root)/lock is locked by another process") == true, "\(String(describing: error))"
        )
        holder.process.kill()
        #expect(await eventually(timeout: .seconds(10)) { (try? await driver.adopt()) != nil })
    }

    @Test func driversInOneProcessShareTheLockUntilTheyLetGo() async throws {
        let (base, root) = try scratch()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let first = QEMUDriver(configuration: SharedParent.configuration(root))
        let second = QEMUDriver(configuration: SharedParent.configuration(root))
        _ = try await first.adopt()
        _ = try await second.adopt()
        #expect(throws: ExclusiveLock.Failure.held(path: "\(root)/lock", pid: getpid())) {
            _ = try ExclusiveLock(path: "\(root)/lock")
        }
        await first.releaseStateRoot()
        #expect(throws: ExclusiveLock.Failure.self) { _ = try ExclusiveLock(path: "\(root)/lock") }
        await second.releaseStateRoot()
        _ = try ExclusiveLock(path: "\(root)/lock")
    }
}

/// `flockctl vm` and flockd beside another process that holds the state root: they refuse to
/// change VMs, with the lock file and the holder's pid; listing still works.
@Suite struct LockedStateRootCommandTests {
    @Test func cloneAndDestroyAreRefusedWhileAnotherProcessHoldsTheRoot() async throws {
        let root = try tmpfsScratch("locked")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let parent = try fakeRecord("flock-qt-lparent", role: .parent, root: root)
        let clone = try fakeRecord("flock-qt-lclone", role: .clone, root: root)
        let holder = try ExclusiveLock(path: "\(root)/lock")
        defer { withExtendedLifetime(holder) {} }

        let destroy = try await CLI.run(["vm", "destroy", clone, "--state", root])
        let cloned = try await CLI.run(["vm", "clone", parent, "--state", root])
        let resumed = try await CLI.run(["vm", "resume", parent, "--state", root])
        for result in [destroy, cloned, resumed] {
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("\(root)/lock is locked by process \(getpid())"), "\(result)")
            #expect(!result.stderr.contains("Stack") && !result.stderr.contains("Fatal"), "\(result)")
        }
        #expect(FileManager.default.fileExists(atPath: VMPaths(root: root, name: clone).metadata), "nothing done")
        let list = try await CLI.run(["vm", "list", "--state", root])
        #expect(list.status == 0 && list.stdout.contains(clone) && list.stdout.contains(parent), "\(list)")
    }

    /// `vm resume` resumes parents: a clone is refused by name, and a parent whose QEMU is gone has
    /// nothing to resume (the lock is free here, so these are the answers, not the lock's).
    @Test func resumeRefusesACloneAndAParentThatDoesNotRun() async throws {
        let root = try tmpfsScratch("resume")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let parent = try fakeRecord("flock-qt-rparent", role: .parent, root: root)
        let clone = try fakeRecord("flock-qt-rclone", role: .clone, root: root)

        let onClone = try await CLI.run(["vm", "resume", clone, "--state", root])
        #expect(onClone.status == 1, "\(onClone)")
        #expect(onClone.stderr.contains("\(clone) is a clone; vm resume resumes parent VMs"), "\(onClone)")
        let gone = try await CLI.run(["vm", "resume", parent, "--state", root])
        #expect(gone.status == 1, "\(gone)")
        #expect(gone.stderr.contains("parent \(parent) does not run (no QEMU process)"), "\(gone)")
        #expect(gone.stderr.contains("flockctl vm start"), "\(gone)")
        for result in [onClone, gone] {
            #expect(result.stdout.isEmpty && !result.stderr.contains("Fatal"), "\(result)")
        }
    }

    @Test func flockdExitsAtOnceNamingTheHolder() async throws {
        let scratch = try Scratch(tmpfs: "flockd")
        let root = scratch.path("qemu")
        try FileManager.default.createDirectory(
            atPath: root, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let holder = try ExclusiveLock(path: "\(root)/lock")
        defer { withExtendedLifetime(holder) {} }
        try scratch.write("web.yaml", try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8))
        let config = try scratch.write(
            "flockd.yaml",
            """
            store: { path: state/flock.db }
            balancers: { lb: { kind: haproxy, socket: \(scratch.path("haproxy.sock")) } }
            hypervisors: { vm: { kind: qemu, state_root: \(root) } }
            pools: { web: { policy: web.yaml, balancer: lb, hypervisor: vm, parent: web-parent } }
            """)
        let flockd = try #require(BuiltBinary.url("flockd"), "swift build --build-tests builds flockd")
        let started = ContinuousClock.now
        let result = try await Child.run(
            flockd, ["--config", config], environment: ["FLOCKD_LISTEN": "127.0.0.1:0"], in: scratch,
            timeout: .seconds(10))
        #expect(result.status == 1, "\(result)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(result.stderr.contains("\(root)/lock is locked by process \(getpid())"), "\(result)")
    }

    /// A VM record with no QEMU behind it: enough for the CLI to get as far as the driver.
    private func fakeRecord(_ name: String, role: Instance.Role, root: String) throws -> String {
        let paths = VMPaths(root: root, name: name)
        try FileManager.default.createDirectory(
            atPath: paths.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let record = VMRecord(
            name: name, pool: "qt", role: role, lineage: Instance.Lineage(),
            spec: GuestImage.spec(name: name, pool: "qt"), accelerator: .tcg, address: "127.0.0.1", port: 1,
            mac: "52:54:00:12:34:56", tap: nil, disk: nil, generation: 0, createdAt: Date())
        try JSONFile.write(record, to: paths.metadata)
        return name
    }
}
