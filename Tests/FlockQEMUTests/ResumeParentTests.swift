import FlockCore
import Foundation
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// A parent left stopped behind the driver's back (paused, or a migration to a file that
    /// completed or waits, as a crash mid-snapshot leaves it) serves nobody: the driver resumes it.
    @Suite(.serialized)
    struct ResumeParentTests {
        private func setUp() async throws -> (QEMUDriver, VMRecord) {
            let (root, parent) = try await SharedParent.shared.get()
            return (QEMUDriver(configuration: SharedParent.configuration(root)), parent)
        }

        /// Runs QMP commands on the parent as another client would, behind the driver's back.
        private func qmp<T>(_ parent: VMRecord, _ body: (QMPClient) async throws -> T) async throws -> T {
            let root = try await SharedParent.shared.get().root
            let client = try await QMPClient.connect(path: VMPaths(root: root, name: parent.name).qmpSocket)
            defer { client.close() }
            return try await body(client)
        }

        private func runState(_ parent: VMRecord) async throws -> String? {
            try await qmp(parent) { try await $0.execute("query-status")["status"]?.stringValue }
        }

        /// Migrates the parent to nowhere (its RAM is shared, so only device state moves) and
        /// waits for `status`, as a snapshot that lost its process would.
        private func migrateAway(_ parent: VMRecord, pauseBeforeSwitchover: Bool, until status: String) async throws {
            try await qmp(parent) { client in
                try await client.execute(
                    "migrate-set-capabilities",
                    arguments: [
                        "capabilities": [
                            ["capability": "x-ignore-shared", "state": true],
                            ["capability": "pause-before-switchover", "state": .bool(pauseBeforeSwitchover)],
                        ]
                    ])
                try await client.execute("migrate", arguments: ["uri": "exec:cat > /dev/null"])
                let deadline = ContinuousClock.now + .seconds(60)
                while try await client.execute("query-migrate")["status"]?.stringValue != status {
                    guard ContinuousClock.now < deadline else { throw HTTP.Failure(description: "no \(status)") }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }

        private func serves(_ parent: VMRecord) async throws -> Bool {
            (try? await HTTP.get("127.0.0.1", try #require(parent.port), "/healthz", timeout: .seconds(5)).status)
                == 200
        }

        @Test func aParentPausedBehindTheDriversBackIsResumed() async throws {
            let (driver, parent) = try await setUp()
            #expect(try await driver.resumeParent(name: parent.name) == nil, "a running parent is left alone")
            try await qmp(parent) { try await $0.execute("stop") }
            #expect(try await !serves(parent), "a paused parent does not answer")
            #expect(try await driver.resumeParent(name: parent.name) == "paused")
            #expect(try await runState(parent) == "running")
            #expect(try await serves(parent))
            #expect(try await driver.resumeParent(name: parent.name) == nil)
        }

        /// While this driver snapshots the parent, the pause is the snapshot's: `resumeParent` leaves
        /// it at once, without even waiting for the QMP socket the snapshot holds.
        @Test func aParentThisDriverIsSnapshottingIsLeftAlone() async throws {
            let (driver, parent) = try await setUp()
            let name = OwnedName.make(pool: SharedParent.pool, suffix: "inflight")
            let batch = Task {
                try await driver.clone(
                    CloneRequest(pool: SharedParent.pool, parent: parent.name, mode: .eager, names: [name]))
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while await !driver.snapshotInFlight(of: parent.name), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            #expect(await driver.snapshotInFlight(of: parent.name), "the snapshot never started")
            #expect(try await driver.resumeParent(name: parent.name) == nil)
            #expect(await driver.snapshotInFlight(of: parent.name), "resumeParent waited for the snapshot")
            let done = try await batch.value
            #expect(done.failed.isEmpty, "\(done.failed)")
            #expect(try await runState(parent) == "running")
            try await driver.destroy(name: name)
        }

        @Test func aMissingParentIsNotFound() async throws {
            let (driver, _) = try await setUp()
            let error = await #expect(throws: FlockError.self) {
                _ = try await driver.resumeParent(name: "flock-qt-noparent")
            }
            #expect(error?.isNotFound == true)
        }

        @Test func aFreshDriverAdoptingAPausedParentResumesIt() async throws {
            let (_, parent) = try await setUp()
            try await qmp(parent) { try await $0.execute("stop") }
            let (restarted, _) = try await setUp()
            let adopted = try await restarted.adopt()
            #expect(adopted.first { $0.record.name == parent.name }?.status == .running, "\(adopted)")
            #expect(try await runState(parent) == "running")
            #expect(try await serves(parent))
        }

        /// An eager snapshot whose process died: the migration completed and left the parent stopped.
        @Test func aPostmigrateParentIsResumed() async throws {
            let (driver, parent) = try await setUp()
            try await migrateAway(parent, pauseBeforeSwitchover: false, until: "completed")
            #expect(try await runState(parent) == "postmigrate")
            #expect(try await driver.resumeParent(name: parent.name) == "postmigrate")
            #expect(try await runState(parent) == "running")
            #expect(try await serves(parent))
        }

        /// An eager snapshot with a disk stops before switch-over for its process to freeze the disk;
        /// with the process gone it would wait for ever, so the migration is cancelled first.
        @Test func aParentStuckBeforeSwitchoverIsCancelledAndResumed() async throws {
            let (driver, parent) = try await setUp()
            try await migrateAway(parent, pauseBeforeSwitchover: true, until: "pre-switchover")
            #expect(try await !serves(parent))
            let found = try await driver.resumeParent(name: parent.name)
            #expect(found != nil && found != "running", "\(String(describing: found))")
            #expect(try await runState(parent) == "running")
            #expect(
                try await qmp(parent) { try await $0.execute("query-migrate")["status"]?.stringValue } == "cancelled")
            #expect(try await serves(parent))
            // Clones still work after, from a fresh snapshot (it sets its own capabilities).
            let name = OwnedName.make(pool: SharedParent.pool, suffix: "rsw")
            let batch = try await driver.clone(
                CloneRequest(pool: SharedParent.pool, parent: parent.name, mode: .lazy, names: [name]))
            #expect(batch.failed.isEmpty, "\(batch.failed)")
            try await driver.destroy(name: name)
        }
    }
}
