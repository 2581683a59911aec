import FlockCore
import Foundation
import Logging

/// Keeps a parent's disk chain short: every snapshot freezes the parent's active qcow2 layer and
/// moves it onto a new overlay, so without this the chain (and the tmpfs it lives on) grows by
/// one layer per snapshot for ever, even after the snapshots are gone.
///
/// Compaction streams (`block-stream`) into the parent's active layer everything above the
/// newest layer a remaining snapshot still uses (or above the spec's image when none does), then
/// deletes the layer files that left the chain. `block-stream` only writes the active layer, which
/// only the parent has open; a frozen layer that clones use as their backing is never written
/// (`block-commit` would write into one), and it stays in the chain below the new base.
extension QEMUDriver {
    /// Compacts `parent`'s disk chain if it has one and its QEMU runs. Waits for a compaction of
    /// the same parent already under way, and does nothing while a snapshot of it is being taken
    /// (that snapshot is about to freeze a layer). Failures are logged: a clone's destroy or a
    /// restart must not fail because a disk could not be compacted (the next release retries).
    func compactDisk(ofParent name: String) async {
        while compacting.contains(name) { try? await Task.sleep(for: .milliseconds(10)) }
        guard !snapshotInFlight(of: name) else { return }
        guard let parent = record(named: name), parent.role == .parent, parent.disk != nil,
            let base = parent.spec.disk
        else { return }
        let paths = paths(name)
        guard let pid = Self.pid(paths), ProcessTable.isOurs(pid, marker: paths.qmpSocket) else { return }
        do {
            // Layers are deleted here: only the state root's holder may (a detached compaction
            // may run after `releaseStateRoot()`).
            try prepareRoot()
        } catch {
            configuration.logger.warning("not compacting the disk chain of \(name): \(error.message)")
            return
        }
        compacting.insert(name)
        defer { compacting.remove(name) }
        do {
            try await streamUnusedLayers(of: parent, base: base, paths: paths)
        } catch {
            configuration.logger.warning("cannot compact the disk chain of \(name): \(error.message)")
        }
    }

    /// Compacts every parent's disk chain (after a restart has swept unused snapshots).
    func compactParentDisks() async {
        for report in list() where report.record.role == .parent && report.status == .running {
            await compactDisk(ofParent: report.record.name)
        }
    }

    /// Waits until no compaction of `parent` runs, so that a snapshot never freezes a layer mid-stream.
    func waitForCompaction(of parent: String) async {
        while compacting.contains(parent) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    private func streamUnusedLayers(of parent: VMRecord, base image: String, paths: VMPaths) async throws(QEMUError) {
        let qmp = try await QMPClient.connect(path: paths.qmpSocket, timeout: .seconds(5))
        defer { qmp.close() }
        let chain = try await diskChain(qmp)
        let used = Set(allSnapshots().filter { $0.parent == parent.name }.compactMap(\.disk))
        // The chain runs from the active layer down; the new base is the first layer below the
        // active one that a snapshot uses, else the spec's image.
        guard let baseIndex = chain.indices.dropFirst().first(where: { used.contains(chain[$0]) || chain[$0] == image })
        else {
            throw .snapshot("neither a snapshot's layer nor the image \(image) is in the chain \(chain)")
        }
        if baseIndex > 1 {
            let job = "flock-compact-\(parent.name)"
            let started = ContinuousClock.now
            let completed: QMPEvent
            do {
                completed = try await qmp.waitForEvent(
                    "BLOCK_JOB_COMPLETED", timeout: configuration.migrationTimeout,
                    after: { () async throws(QEMUError) in
                        try await qmp.execute(
                            "block-stream",
                            arguments: ["job-id": .string(job), "device": "disk0", "base": .string(chain[baseIndex])])
                    },
                    matching: { $0.data["device"]?.stringValue == job })
            } catch {
                // A job left running would hold the layers and refuse the next compaction's job id.
                _ = try? await qmp.execute("block-job-cancel", arguments: ["device": .string(job)])
                throw error
            }
            if let error = completed.data["error"]?.stringValue {
                throw .snapshot("block-stream onto \(chain[baseIndex]) failed: \(error)")
            }
            let elapsed = (ContinuousClock.now - started).formatted(.units(allowed: [.milliseconds]))
            let streamed = "\(baseIndex - 1) layer(s) streamed in \(elapsed)"
            configuration.logger.info("compacted the disk of \(parent.name): \(streamed), now on \(chain[baseIndex])")
        }
        // Re-read rather than assume: only what QEMU no longer has open may go.
        let kept = Set(try await diskChain(qmp)).union(used)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: paths.directory)) ?? []
        for file in files where file.hasPrefix("disk") && file.hasSuffix(".qcow2") {
            let layer = "\(paths.directory)/\(file)"
            guard !kept.contains(layer) else { continue }
            do {
                try FileManager.default.removeItem(atPath: layer)
            } catch {
                configuration.logger.warning(
                    "cannot delete the unused disk layer \(layer): \(error.localizedDescription)")
            }
        }
    }

    /// The file names of disk0's backing chain, from the active layer down to the bottom image.
    func diskChain(_ qmp: QMPClient) async throws(QEMUError) -> [String] {
        let devices = try await qmp.execute("query-block")
        guard case .array(let list) = devices,
            var image = list.first(where: { $0["device"]?.stringValue == "disk0" })?["inserted"]?["image"]
        else { throw .snapshot("QEMU reports no disk0 (query-block)") }
        var chain: [String] = []
        while let file = image["filename"]?.stringValue {
            chain.append(file)
            guard let backing = image["backing-image"] else { break }
            image = backing
        }
        return chain
    }
}
