import FlockCore
import FlockSystem
import Foundation
import Logging

extension QEMUDriver {
    /// A fresh-enough snapshot of `parent` for `mode`, reusing one younger than
    /// `snapshotMaxAge`, else pausing the parent once to take a new one. Pinned for the caller.
    func pinnedSnapshot(of parent: VMRecord, mode: CloneMode) async throws(QEMUError) -> SnapshotRecord {
        await waitForCompaction(of: parent.name)
        if let reusable = reusableSnapshot(of: parent.name, mode: mode) {
            pins[reusable.id, default: 0] += 1
            configuration.logger.info("reusing snapshot \(reusable.id) (no parent pause)")
            return reusable
        }
        let key = "\(parent.name)|\(mode.rawValue)"
        let task: Task<SnapshotRecord, any Error>
        if let running = snapshotsInFlight[key] {
            task = running
        } else {
            task = Task { try await self.takeSnapshot(of: parent.name, mode: mode) }
            snapshotsInFlight[key] = task
        }
        do {
            let snapshot = try await task.value
            snapshotsInFlight[key] = nil
            pins[snapshot.id, default: 0] += 1
            return snapshot
        } catch {
            snapshotsInFlight[key] = nil
            throw error as? QEMUError ?? .snapshot("\(error)")
        }
    }

    func unpin(_ id: String) {
        pins[id, default: 1] -= 1
        if pins[id] == 0 { pins[id] = nil }
        let parent = JSONFile.read(SnapshotRecord.self, from: snapshotPaths(id).metadata)?.parent
        // Called from a `defer`, so the compaction cannot be awaited here; the next one catches up.
        if releaseSnapshotIfUnused(id), let parent { Task { await self.compactDisk(ofParent: parent) } }
    }

    /// The newest complete snapshot of `parent` for `mode`, if younger than the maximum age.
    func reusableSnapshot(of parent: String, mode: CloneMode) -> SnapshotRecord? {
        guard configuration.snapshotMaxAge > .zero else { return nil }
        let maxAge =
            Double(configuration.snapshotMaxAge.components.seconds) + Double(
                configuration.snapshotMaxAge.components.attoseconds) / 1e18
        return allSnapshots()
            .filter { $0.parent == parent && $0.mode == mode && Date().timeIntervalSince($0.createdAt) < maxAge }
            .filter { isComplete($0) }
            .max { $0.createdAt < $1.createdAt }
    }

    func isComplete(_ snapshot: SnapshotRecord) -> Bool {
        let paths = snapshotPaths(snapshot.id)
        return FileManager.default.fileExists(atPath: paths.state)
            && (snapshot.mode != .lazy || FileManager.default.fileExists(atPath: paths.memory))
    }

    func allSnapshots() -> [SnapshotRecord] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/snapshots")) ?? []
        return ids.compactMap { JSONFile.read(SnapshotRecord.self, from: snapshotPaths($0).metadata) }
    }

    /// Pauses the parent once and writes a snapshot: for `lazy`, a frozen copy of its RAM file
    /// plus its device state (`x-ignore-shared`); for `eager`, its whole RAM and device state,
    /// streamed live so the pause is only migration's final stop-and-copy.
    func takeSnapshot(of parentName: String, mode: CloneMode) async throws(QEMUError) -> SnapshotRecord {
        guard var parent = record(named: parentName), parent.role == .parent else { throw .notFound(parentName) }
        // Asked before the pause (once per driver): a snapshot says what a restore must match.
        let compatibility = await compatibility(machine: parent.spec.machine, accelerator: parent.accelerator)
        let parentPaths = paths(parentName)
        parent.generation += 1
        try JSONFile.write(parent, to: parentPaths.metadata)
        let id = "\(parentName)-g\(parent.generation)-\(mode.rawValue)"
        let paths = snapshotPaths(id)
        creating.insert(id)
        defer { creating.remove(id) }
        do {
            try FileManager.default.createDirectory(
                atPath: paths.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .snapshot("cannot create \(paths.directory): \(error.localizedDescription)")
        }
        guard let pid = Self.pid(parentPaths) else { throw .snapshot("parent \(parentName) has no pid file") }
        let qmp = try await QMPClient.connect(
            path: parentPaths.qmpSocket, timeout: .seconds(5), keepTrying: { ProcessTable.isAlive(pid) })
        defer { qmp.close() }
        let events = qmp.events()
        do {
            try await qmp.execute(
                "migrate-set-capabilities",
                arguments: [
                    "capabilities": [
                        ["capability": "x-ignore-shared", "state": .bool(mode == .lazy)],
                        ["capability": "events", "state": true],
                        // With a disk, an eager snapshot stops before switch-over so the disk can be
                        // frozen at exactly the instant the memory is.
                        [
                            "capability": "pause-before-switchover",
                            "state": .bool(mode == .eager && parent.disk != nil),
                        ],
                    ]
                ])
            // QEMU 7.2 defaults to 128 MiB/s, meant for networks; a local file takes all it can.
            try await qmp.execute(
                "migrate-set-parameters", arguments: ["max-bandwidth": .number(1e12), "downtime-limit": 100])
            let started = ContinuousClock.now
            var copied = 0
            var frozenDisk: String?
            if mode == .lazy && configuration.lazyFreeze == .liveTemplate && parent.disk == nil {
                let pause = try await freezeThroughTemplate(parent: parent, qmp: qmp, events: events, into: paths)
                let snapshot = SnapshotRecord(
                    id: id, parent: parentName, mode: mode, generation: parent.generation, createdAt: Date(),
                    pauseMilliseconds: pause, disk: nil, compatibility: compatibility)
                try JSONFile.write(snapshot, to: paths.metadata)
                let line = String(
                    format: "snapshot %@: parent %@ paused %.1f ms (lazy, live template)", id, parentName, pause)
                configuration.logger.info("\(line)")
                return snapshot
            }
            if mode == .lazy {
                try await qmp.execute("stop")
                FaultPoint.reach("snapshot:paused")
                copied = try FrozenCopy.copy(from: parentPaths.memory, to: paths.memory)
                frozenDisk = try await freezeDisk(of: &parent, qmp: qmp)
            }
            try await qmp.execute("migrate", arguments: ["uri": .string("exec:cat > \(paths.state)")])
            if mode == .eager && parent.disk != nil {
                try await waitForMigration(qmp, what: "snapshot of \(parentName)", until: "pre-switchover")
                frozenDisk = try await freezeDisk(of: &parent, qmp: qmp)
                try await qmp.execute("migrate-continue", arguments: ["state": "pre-switchover"])
            }
            try await waitForMigration(qmp, what: "snapshot of \(parentName)")
            try await resume(qmp)
            let ended = ContinuousClock.now
            chmod(paths.state, 0o600)
            let pause: Double
            if mode == .lazy {
                pause =
                    Double((ended - started).components.attoseconds) / 1e15 + Double(
                        (ended - started).components.seconds) * 1000
            } else {
                pause =
                    await measuredPause(events) ?? Double((ended - started).components.attoseconds) / 1e15 + Double(
                        (ended - started).components.seconds) * 1000
            }
            let snapshot = SnapshotRecord(
                id: id, parent: parentName, mode: mode, generation: parent.generation, createdAt: Date(),
                pauseMilliseconds: pause,
                disk: frozenDisk, compatibility: compatibility)
            try JSONFile.write(snapshot, to: paths.metadata)
            let size = (try? FileManager.default.attributesOfItem(atPath: paths.state)[.size] as? Int) ?? 0
            let line = String(
                format: "snapshot %@: parent %@ paused %.1f ms (%@ memory copied %.1f MiB, device state %.1f MiB)",
                id, parentName, pause, mode.rawValue, Double(copied) / 1_048_576, Double(size) / 1_048_576)
            configuration.logger.info("\(line)")
            return snapshot
        } catch {
            // Whatever failed, the parent must not stay paused (it serves traffic).
            _ = try? await qmp.execute("migrate_cancel")
            try? await resume(qmp)
            removeDirectory(paths.directory)
            throw .snapshot("cannot snapshot parent \(parentName): \(error.message)")
        }
    }

    /// Freezes the parent's RAM with a template VM: the parent live-migrates into a paused QEMU
    /// whose RAM is the snapshot's memory file (`share=on`), then the template writes its device
    /// state with `x-ignore-shared` and quits. Returns the parent's pause in milliseconds.
    private func freezeThroughTemplate(
        parent: VMRecord, qmp: QMPClient, events: AsyncStream<QMPEvent>, into snapshot: SnapshotPaths
    ) async throws(QEMUError) -> Double {
        let templatePaths = VMPaths(directory: "\(snapshot.directory)/template")
        do {
            try FileManager.default.createDirectory(
                atPath: templatePaths.directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw .snapshot("cannot create \(templatePaths.directory): \(error.localizedDescription)")
        }
        defer { removeDirectory(templatePaths.directory) }
        try createMemoryFile(snapshot.memory, size: parent.spec.memoryMiB, creatingDirectory: snapshot.directory)
        var spec = parent.spec
        spec.network = NetworkSpec(mode: .user)  // the NIC's backend is not migrated; no TAP needed
        let commandLine = QEMUCommandLine(
            name: "\(parent.name)-template", spec: spec, accelerator: parent.accelerator, paths: templatePaths,
            memory: .shared(path: snapshot.memory),
            network: .user(hostPort: try Networking.freePort(), guestPort: spec.guestPort),
            mac: parent.mac, incoming: true, cpuModel: configuration.cpuModel)
        let status = try await runTool(configuration.qemu, commandLine.arguments, log: templatePaths.log)
        guard status == 0, let pid = Self.pid(templatePaths) else {
            throw .snapshot("the template VM did not start (status \(status))\(qemuLogTail(templatePaths))")
        }
        let template = try await QMPClient.connect(
            path: templatePaths.qmpSocket, timeout: .seconds(10), keepTrying: { ProcessTable.isAlive(pid) })
        defer {
            template.close()
            if ProcessTable.isOurs(pid, marker: templatePaths.qmpSocket) { kill(pid, SIGKILL) }
        }
        let channel = "\(templatePaths.directory)/migrate.sock"
        try await template.execute(
            "migrate-set-capabilities",
            arguments: ["capabilities": [["capability": "x-ignore-shared", "state": false]]])
        try await template.execute("migrate-incoming", arguments: ["uri": .string("unix:\(channel)")])
        // The template must receive the RAM itself, so the parent sends it this time.
        try await qmp.execute(
            "migrate-set-capabilities",
            arguments: ["capabilities": [["capability": "x-ignore-shared", "state": false]]])
        try await qmp.execute("migrate", arguments: ["uri": .string("unix:\(channel)")])
        do {
            try await waitForMigration(qmp, what: "live freeze of \(parent.name)")
        } catch {
            throw .snapshot("\(error.message)\(qemuLogTail(templatePaths))")
        }
        try await resume(qmp)
        let pause = await measuredPause(events) ?? 0
        try await waitForMigration(template, what: "template of \(parent.name)")
        try await template.execute(
            "migrate-set-capabilities", arguments: ["capabilities": [["capability": "x-ignore-shared", "state": true]]])
        try await template.execute("migrate-set-parameters", arguments: ["max-bandwidth": .number(1e12)])
        try await template.execute("migrate", arguments: ["uri": .string("exec:cat > \(snapshot.state)")])
        try await waitForMigration(template, what: "template of \(parent.name)")
        chmod(snapshot.state, 0o600)
        _ = try? await template.execute("quit", timeout: .seconds(2))
        _ = await ProcessTable.waitGone(pid, timeout: .seconds(5))
        return pause
    }

    /// Resumes a VM that a snapshot paused (or that a migration left in `postmigrate`).
    ///
    /// `query-migrate` reports `completed` a moment before QEMU has finished cleaning up the
    /// migration, and `cont` is refused in between ("Migration is not finalized yet"); so this
    /// retries briefly, and does nothing if the VM already runs.
    func resume(_ qmp: QMPClient) async throws(QEMUError) {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            if try await qmp.execute("query-status")["running"]?.boolValue == true { return }
            do {
                try await qmp.execute("cont")
                return
            } catch {
                guard error.isCommandError, error.message.contains("not finalized"), ContinuousClock.now < deadline
                else {
                    throw error
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// The pause as QEMU timed it: from the STOP event to the RESUME event.
    private func measuredPause(_ events: AsyncStream<QMPEvent>) async -> Double? {
        var stop: Double?
        var iterator = events.makeAsyncIterator()
        let deadline = ContinuousClock.now + .milliseconds(200)
        while ContinuousClock.now < deadline {
            guard let event = await iterator.next() else { return nil }
            if event.name == "STOP" { stop = event.timestamp }
            if event.name == "RESUME", let stop { return (event.timestamp - stop) * 1000 }
        }
        return nil
    }

    /// Freezes the paused parent's active disk layer: QEMU moves the parent onto a new overlay
    /// and the old layer becomes immutable, the base of the snapshot's clones. Returns it.
    private func freezeDisk(of parent: inout VMRecord, qmp: QMPClient) async throws(QEMUError) -> String? {
        guard let current = parent.disk else { return nil }
        let next = "\(paths(parent.name).directory)/disk-g\(parent.generation).qcow2"
        try await qmp.execute(
            "blockdev-snapshot-sync", arguments: ["device": "disk0", "snapshot-file": .string(next), "format": "qcow2"])
        chmod(next, 0o600)
        parent.disk = next
        try JSONFile.write(parent, to: paths(parent.name).metadata)
        return current
    }

    /// Polls `query-migrate` (on either side) until it reaches `until` (completed by default);
    /// throws with QEMU's reason on failure.
    func waitForMigration(_ qmp: QMPClient, what: String, until target: String = "completed") async throws(QEMUError) {
        let deadline = ContinuousClock.now + configuration.migrationTimeout
        while true {
            let info = try await qmp.execute("query-migrate")
            switch info["status"]?.stringValue {
            case target: return
            case "failed", "cancelled":
                throw .snapshot(
                    "\(what): migration \(info["status"]?.stringValue ?? "failed"): \(info["error-desc"]?.stringValue ?? "no reason given")"
                )
            default: break
            }
            guard ContinuousClock.now < deadline else { throw .timeout(what, after: configuration.migrationTimeout) }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Deletes a snapshot when no clone record refers to it and no batch here has it pinned:
    /// snapshots hold guest memory, so they must not outlive their users. Returns whether it did,
    /// since then the parent's disk chain may be compacted.
    @discardableResult
    func releaseSnapshotIfUnused(_ id: String) -> Bool {
        guard pins[id] == nil, !creating.contains(id) else { return false }
        let users = list().filter { $0.record.lineage.snapshot == id }
        guard users.isEmpty, FileManager.default.fileExists(atPath: snapshotPaths(id).directory) else { return false }
        removeDirectory(snapshotPaths(id).directory)
        return true
    }

    /// Deletes every snapshot nothing uses (after a crash or restart).
    func sweepUnusedSnapshots() {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/snapshots")) ?? []
        for id in ids { releaseSnapshotIfUnused(id) }
    }

    /// How many clones use a snapshot, for tests and listings.
    public func snapshotUsers(_ id: String) -> Int {
        list().filter { $0.record.lineage.snapshot == id }.count
    }

    /// Every snapshot on disk.
    public func snapshots() -> [SnapshotRecord] { allSnapshots().sorted { $0.createdAt < $1.createdAt } }
}
