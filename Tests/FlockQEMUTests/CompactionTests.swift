import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

extension RealVMs {
    /// The parent's disk chain after many clone/destroy cycles: each snapshot freezes a layer, and
    /// once no clone uses a layer it is streamed into the parent's active layer and deleted, so the
    /// chain and the tmpfs use return to the parent's own size, and what the parent wrote survives.
    ///
    /// `FLOCK_COMPACTION_CYCLES` sets the number of cycles (20 by default, the figure; about
    /// 1 s per cycle under TCG).
    @Suite(.serialized)
    struct CompactionTests {
        static let mebibyte = 1 << 20

        @Test func layersNoCloneUsesAreStreamedAwayAndDeleted() async throws {
            let cycles = ProcessInfo.processInfo.environment["FLOCK_COMPACTION_CYCLES"].flatMap(Int.init) ?? 20
            // The image lives outside the state root, so the root holds only what Flock made.
            let images = try tmpfsScratch("cimage")
            let root = try tmpfsScratch("compact")
            ExitCleanup.register(root)
            defer { try? FileManager.default.removeItem(atPath: images) }
            let base = "\(images)/base.qcow2"
            let created = try await ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", base, "64M"])
            #expect(created.status == 0, "\(created.standardError)")
            let driver = QEMUDriver(configuration: SharedParent.configuration(root))
            var spec = GuestImage.spec(name: "flock-cp-parent", pool: "cp")
            spec.disk = base
            let parent = try await driver.startParent(spec)
            let parentPaths = VMPaths(root: root, name: parent.name)
            let before = allocatedBytes(root)

            // A clone kept for the whole run pins the first frozen layer (which holds pattern 1):
            // compaction may stream only above it, and must leave it readable for the clone.
            try await write(pattern: 1, at: 0, into: parentPaths)
            let keeper = try await driver.clone(
                CloneRequest(pool: "cp", parent: parent.name, mode: .lazy, names: ["flock-cp-keep"]))
            #expect(keeper.failed.isEmpty, "\(keeper.failed)")
            let keptLayer = "\(parentPaths.directory)/disk.qcow2"
            let withKeeper = allocatedBytes(root)

            var samples: [Int] = []
            let started = ContinuousClock.now
            for cycle in 1...cycles {
                try await write(pattern: cycle + 1, at: cycle, into: parentPaths)
                let batch = try await driver.clone(
                    CloneRequest(pool: "cp", parent: parent.name, mode: .lazy, names: ["flock-cp-c\(cycle)"]))
                #expect(batch.failed.isEmpty, "\(batch.failed)")
                try await driver.destroy(name: "flock-cp-c\(cycle)")
                let active = try #require(await driver.record(named: parent.name)?.disk)
                #expect(
                    try await backingChain(active) == [active, keptLayer, base],
                    "cycle \(cycle): only the kept clone's layer stays under the active one")
                samples.append(allocatedBytes(root))
            }
            let elapsed = ContinuousClock.now - started
            let port = try #require(keeper.started.first?.port)
            #expect(try await HTTP.get("127.0.0.1", port, "/healthz").status == 200, "the kept clone still serves")

            // The last clone dies with no destroy (a crash); a restarted driver's adoption compacts.
            let keeperPaths = VMPaths(root: root, name: "flock-cp-keep")
            let keeperPID = try #require(QEMUDriver.pid(keeperPaths))
            kill(keeperPID, SIGKILL)
            #expect(await ProcessTable.waitGone(keeperPID, timeout: .seconds(5)))
            // ... and its process died mid-compaction: the job it started still streams, slowly,
            // inside the parent's QEMU and holds the job id. The restarted driver must still end
            // with the chain compacted and the layers deleted.
            try await startSlowCompaction(of: parent.name, onto: base, paths: parentPaths)
            let restarted = QEMUDriver(configuration: SharedParent.configuration(root))
            _ = try await restarted.adopt()
            #expect(!FileManager.default.fileExists(atPath: keeperPaths.directory))
            let active = try #require(await restarted.record(named: parent.name)?.disk)
            #expect(try await backingChain(active) == [active, base], "no clone left: the chain is the active layer")
            let layers = filesUnder(parentPaths.directory).filter { $0.hasPrefix("disk") }
            #expect(layers == [URL(fileURLWithPath: active).lastPathComponent], "every other layer was deleted")
            #expect(filesUnder("\(root)/snapshots").isEmpty)
            try await expectPatterns(1...(cycles + 1), in: active, parent: parentPaths)

            let after = allocatedBytes(root)
            let disk = allocatedBytes(active)
            let own = allocatedBytes(parentPaths.memory) + disk
            let written = (cycles + 1) * Self.mebibyte
            let perCycle = ((samples.last ?? 0) - (samples.first ?? 0)) / max(cycles - 1, 1)
            print(
                "compaction: \(cycles) cycles in \(elapsed); allocated under the state root: before \(before), "
                    + "with the kept clone \(withKeeper), samples \(samples), after \(after); parent's own \(own) "
                    + "(disk \(disk) for \(written) written); per cycle \(perCycle) bytes")
            // Nothing but the parent is left: its RAM file, its one disk layer and its small files.
            #expect(after - own < Self.mebibyte, "after \(after) vs the parent's own \(own)")
            // Back to the size before the cycles, give or take what the parent wrote and the RAM it touched.
            #expect(after - before < written + 4 * Self.mebibyte, "before \(before), after \(after)")
            // The layer holds what the parent wrote plus qcow2 metadata, not one copy per cycle.
            #expect(disk < written + 2 * Self.mebibyte, "the active layer holds \(disk) for \(written) written")
            // While the keeper lives, each cycle adds only the 1 MiB the parent wrote (plus slack
            // for RAM the guest touched), not a layer or a snapshot.
            #expect(perCycle < 2 * Self.mebibyte, "per cycle \(perCycle) bytes (samples \(samples))")
            try await restarted.stopParent(name: parent.name)
            try? FileManager.default.removeItem(atPath: root)
        }

        /// Writes `MiB` number `offset` of the parent's disk with byte `pattern`, through QEMU's
        /// block layer as a guest write would go (the demo guest has no disk writer of its own).
        private func write(pattern: Int, at offset: Int, into paths: VMPaths) async throws {
            let qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(5))
            defer { qmp.close() }
            for command in ["write -P \(pattern) \(offset)M 1M", "flush"] {
                let said = try await qmp.execute(
                    "human-monitor-command", arguments: ["command-line": .string("qemu-io disk0 \"\(command)\"")])
                #expect(said.stringValue?.isEmpty ?? true, "qemu-io \(command): \(said)")
            }
        }

        /// Starts the driver's own compaction job by hand, as a killed process leaves it, throttled to
        /// 1 byte/s: QEMU copies a first 512 KiB chunk at once, then the kept layer's second one
        /// would wait for days.
        private func startSlowCompaction(of parent: String, onto base: String, paths: VMPaths) async throws {
            let qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(5))
            defer { qmp.close() }
            try await qmp.execute(
                "block-stream",
                arguments: [
                    "job-id": .string("flock-compact-\(parent)"), "device": "disk0", "base": .string(base),
                    "speed": 1,
                ])
            let jobs = try await qmp.execute("query-block-jobs")
            #expect(jobs.description.contains("\"flock-compact-\(parent)\""), "the slowed job runs: \(jobs)")
        }

        /// Reads every pattern back from the chain with `qemu-io` (sharing the image with QEMU).
        private func expectPatterns(_ patterns: ClosedRange<Int>, in image: String, parent: VMPaths) async throws {
            let qmp = try await QMPClient.connect(path: parent.qmpSocket, timeout: .seconds(5))
            try await qmp.execute("human-monitor-command", arguments: ["command-line": "qemu-io disk0 flush"])
            qmp.close()
            let reads = patterns.flatMap { ["-c", "read -P \($0) \($0 - 1)M 1M"] }
            let outcome = try await ChildProcess.run("qemu-io", ["-r", "-U", "-f", "qcow2"] + reads + [image])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            #expect(!outcome.standardOutput.contains("verification failed"), "\(outcome.standardOutput)")
            #expect(
                outcome.standardOutput.components(separatedBy: "read 1048576/1048576").count - 1 == patterns.count,
                "\(outcome.standardOutput)")
        }

        /// The chain's file names, active layer first, from `qemu-img info -U --backing-chain`.
        private func backingChain(_ image: String) async throws -> [String] {
            let outcome = try await ChildProcess.run(
                "qemu-img", ["info", "-U", "--backing-chain", "--output=json", image])
            #expect(outcome.status == 0, "\(outcome.standardError)")
            let parsed = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8))
            return ((parsed as? [[String: Any]]) ?? []).compactMap { $0["filename"] as? String }
        }

        /// Bytes allocated on disk (`st_blocks` × 512) for a file, or for everything under a directory.
        private func allocatedBytes(_ path: String) -> Int {
            var info = stat()
            guard lstat(path, &info) == 0 else { return 0 }
            var total = Int(info.st_blocks) * 512
            if (info.st_mode & S_IFMT) == S_IFDIR {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                    total += allocatedBytes("\(path)/\(name)")
                }
            }
            return total
        }
    }
}
