import FlockCore
import FlockTestSupport
import Foundation
import Synchronization
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// Clone hooks on real VMs under TCG: a parent whose image carries `/etc/flock/clone.d/`
    /// (the busybox image plus an extra cpio archive), cloned into a clone whose hooks pass and
    /// one whose second hook fails. The failing hook fails only for clone ids containing `fail`,
    /// so one parent boot serves both cases.
    @Suite(.serialized)
    struct CloneHookTests {
        static let pool = "qh"

        /// Checks its own environment against the guest, which the agent has already changed:
        /// any mismatch is a failure, and would fail the clone with this output.
        static let okHook = """
            #!/bin/sh
            [ -n "$FLOCK_CLONE_ID" ] || { echo "no FLOCK_CLONE_ID"; exit 1; }
            [ "$FLOCK_HOSTNAME" = "$FLOCK_CLONE_ID" ] || { echo "FLOCK_HOSTNAME=$FLOCK_HOSTNAME"; exit 1; }
            [ "$(hostname)" = "$FLOCK_HOSTNAME" ] || { echo "hostname is $(hostname), not yet $FLOCK_HOSTNAME"; exit 1; }
            case "$FLOCK_GENERATION" in ''|*[!0-9]*) echo "FLOCK_GENERATION=$FLOCK_GENERATION"; exit 1 ;; esac
            grep -q "\\"clone_id\\":\\"$FLOCK_CLONE_ID\\"" "$FLOCK_IDENTITY_FILE" || { echo "identity file is old"; exit 1; }
            [ -z "$FLOCK_ADDRESS" ] || { echo "FLOCK_ADDRESS set in user mode"; exit 1; }
            echo "flushed the pool"
            """
        /// Fails for clone ids containing `fail`, with its identity and a control character (an ESC
        /// byte written into the script as it is).
        static let failHook = """
            #!/bin/sh
            case "$FLOCK_CLONE_ID" in
            *fail*) printf 'upstream refused %s generation %s\u{1b}[2J\\n' "$FLOCK_HOSTNAME" "$FLOCK_GENERATION"; exit 3 ;;
            esac
            """

        /// The driver's log lines.
        private static let lines = Mutex<[String]>([])

        /// A driver on its own state root, and its parent booted from the hooked initrd.
        private func start() async throws -> (QEMUDriver, String, VMRecord) {
            let root = try tmpfsScratch("hooks")
            ExitCleanup.register(root)
            let initrd = root + "/initrd-hooks.img"
            try ExtraInitrd.write(
                base: GuestImage.initrd,
                adding: [
                    .init(path: "etc/flock/clone.d/10-ok", contents: Self.okHook, mode: 0o755),
                    .init(path: "etc/flock/clone.d/20-fail", contents: Self.failHook, mode: 0o755),
                    .init(path: "etc/flock/clone.d/README", contents: "not executable: skipped\n", mode: 0o644),
                ], to: initrd)
            let configuration = QEMUDriverConfiguration(
                stateRoot: root, snapshotMaxAge: .seconds(300), quitTimeout: .seconds(3),
                logger: LineLogHandler.logger(label: "test") { line in Self.lines.withLock { $0.append(line) } })
            let driver = QEMUDriver(configuration: configuration)
            var spec = GuestImage.spec(name: OwnedName.make(pool: Self.pool, suffix: "parent"), pool: Self.pool)
            spec.initrd = initrd
            return (driver, root, try await driver.startParent(spec))
        }

        @Test func hooksRunInTheCloneAndAFailingHookFailsItsCloneCleanly() async throws {
            let (driver, root, parent) = try await start()
            let good = OwnedName.make(pool: Self.pool, suffix: "ok1")
            let bad = OwnedName.make(pool: Self.pool, suffix: "fail1")

            let batch = try await driver.clone(
                CloneRequest(pool: Self.pool, parent: parent.name, mode: .lazy, names: [good, bad]))

            // The passing clone: acked after its hooks, whose checks of the new identity passed,
            // and serving.
            #expect(batch.started.map(\.name) == [good], "\(batch)")
            let vm = try #require(batch.started.first)
            #expect(try await HTTP.get("127.0.0.1", try #require(vm.port), "/healthz").status == 200)
            let logged = Self.lines.withLock { $0 }
            #expect(
                logged.contains("clone \(good) ran its clone hooks: 10-ok (exit 0), 20-fail (exit 0)"),
                "\(logged)")

            // The failing clone: reported with the hook's name, status and escaped output.
            let cause = try #require(batch.failed[bad])
            #expect(cause.contains("clone hook 20-fail failed (exit 3)"), "\(cause)")
            let generation = try #require(await driver.snapshots().first).generation
            #expect(
                cause.contains(#"output: upstream refused \#(bad) generation \#(generation)\u001b[2J\u000a"#),
                "\(cause)")
            #expect(!cause.unicodeScalars.contains { $0.value < 0x20 }, "no raw control character: \(cause)")
            #expect(!cause.contains("10-ok"), "only the failing hook is the cause")
            let badPaths = VMPaths(root: root, name: bad)
            #expect(!FileManager.default.fileExists(atPath: badPaths.directory), "nothing left in the state root")
            #expect(!filesUnder("\(root)/vms").contains { $0.hasPrefix(bad) })
            #expect(qemuProcesses(marker: badPaths.qmpSocket).isEmpty, "its QEMU is gone")
            #expect(try await driver.ownedVMs().map(\.name).sorted() == [parent.name, good].sorted())

            try await driver.destroy(name: good)
            #expect(await driver.snapshots().isEmpty, "the snapshot goes with its last clone")
            try await driver.stopParent(name: parent.name)
            #expect(filesUnder("\(root)/vms").isEmpty)
        }

        /// Processes whose command line mentions `marker` (a VM's QMP socket path).
        private func qemuProcesses(marker: String) -> [String] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.filter { pid in
                guard pid.allSatisfy(\.isNumber),
                    let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
                else { return false }
                return String(decoding: data, as: UTF8.self).contains(marker)
            }
        }
    }
}
