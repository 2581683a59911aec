import FlockCore
import FlockSystem
import Foundation

/// A lazy snapshot as it leaves its parent's host: its record, the parent's record (the spec and
/// accelerator its clones restore with) and the files that carry guest state.
public struct ExportedSnapshot: Sendable {
    public var record: SnapshotRecord
    public var parent: VMRecord
    /// The files to ship, by their name in the snapshot's directory: `memory` and `state`.
    public var files: [(name: String, path: String)]
}

/// Snapshots that travel between hosts: exported (pinned) on the parent's host, imported into
/// another host's state root, and restored there by `cloneFromImportedSnapshot`.
///
/// An imported snapshot is a real snapshot directory under `snapshots/` plus `parent.json`,
/// rather than a fake parent VM under `vms/`: a fake parent would be listed, adopted, resumed and
/// compacted as if it ran there. Its clones record it in their lineage like local clones, so the
/// last one destroyed there deletes it (`releaseSnapshotIfUnused`).
extension QEMUDriver {
    /// The names of the files a shipped snapshot carries; nothing else is ever written.
    public static let shippedFiles = ["memory", "state"]

    /// Takes (or reuses) a lazy snapshot of a running parent and pins it until `releaseExport`,
    /// so it is not deleted while it is being shipped. Parents with a disk are refused: their
    /// frozen layer sits on a backing chain in the parent's directory, which does not travel yet.
    public func exportSnapshot(ofParent name: String) async throws(QEMUError) -> ExportedSnapshot {
        try prepareRoot()
        guard let parent = record(named: name), parent.role == .parent else { throw .notFound(name) }
        guard parent.spec.disk == nil else {
            throw .refused(
                "parent \(name) has a disk; snapshots with a disk layer cannot be shipped to other hosts yet")
        }
        let snapshot = try await pinnedSnapshot(of: parent, mode: .lazy)
        let paths = snapshotPaths(snapshot.id)
        return ExportedSnapshot(
            record: snapshot, parent: parent, files: [("memory", paths.memory), ("state", paths.state)])
    }

    /// Lets go of an exported snapshot; it is deleted here if no local clone uses it.
    public func releaseExport(_ id: String) {
        unpin(id)
    }

    /// Where snapshots being received are assembled, one private directory each, before they are
    /// renamed into `snapshots/`: a reader of `snapshots/` never sees a half-written one.
    public nonisolated var incomingDirectory: String { "\(root)/incoming" }

    /// The final directory of a snapshot.
    public nonisolated func snapshotDirectory(_ id: String) -> String { snapshotPaths(id).directory }

    /// Writes an imported snapshot's records into its staging directory (0600, fsynced).
    public nonisolated func writeImportRecords(
        _ record: SnapshotRecord, parent: VMRecord, inStaging directory: String
    ) throws(QEMUError) {
        let staged = SnapshotPaths(directory: directory, id: record.id)
        try JSONFile.write(record, to: staged.metadata)
        try JSONFile.write(parent, to: staged.parentRecord)
    }

    /// The imported snapshots this host holds completely (records and files), oldest first.
    public nonisolated func importedSnapshots() -> [SnapshotRecord] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/snapshots")) ?? []
        return ids.compactMap { importedSnapshot($0) }.sorted { $0.createdAt < $1.createdAt }
    }

    /// An imported snapshot, if this host holds all of it.
    public nonisolated func importedSnapshot(_ id: String) -> SnapshotRecord? {
        guard VMSpec.isValidName(id) else { return nil }
        let paths = snapshotPaths(id)
        guard let record = JSONFile.read(SnapshotRecord.self, from: paths.metadata), record.id == id,
            FileManager.default.fileExists(atPath: paths.parentRecord),
            Self.shippedFiles.allSatisfy({ FileManager.default.fileExists(atPath: "\(paths.directory)/\($0)") })
        else { return nil }
        return record
    }

    /// Restores clones from a snapshot shipped here from the parent's host: RAM maps the shipped
    /// memory file privately, so every clone on this host shares its untouched pages, as local
    /// lazy clones do. `network` is this host's (its bridge and subnet), never the parent's.
    ///
    /// Refused, saying what differs, when this host's QEMU, machine type or CPU model is not the
    /// snapshot's.
    public func cloneFromImportedSnapshot(
        _ id: String, pool: String, names requested: [String], network: NetworkSpec
    ) async throws(QEMUError) -> CloneBatch {
        try prepareRoot()
        guard let snapshot = importedSnapshot(id),
            var parent = JSONFile.read(VMRecord.self, from: snapshotPaths(id).parentRecord)
        else { throw .snapshot("this host does not hold snapshot \(id)") }
        guard parent.pool == pool else { throw .refused("snapshot \(id) is of pool \(parent.pool), not \(pool)") }
        guard snapshot.mode == .lazy, snapshot.disk == nil else {
            throw .refused(
                "snapshot \(id) is not a lazy snapshot without a disk; only those are restored from a shipment")
        }
        guard let recorded = snapshot.compatibility else {
            throw .refused("snapshot \(id) records no QEMU version, machine type or CPU model; take a new one")
        }
        let here = await compatibility(machine: parent.spec.machine, accelerator: parent.accelerator)
        let differences = here.differences(fromSnapshot: recorded)
        guard differences.isEmpty else {
            throw .refused("snapshot \(id) cannot be restored on this host: \(differences.joined(separator: "; "))")
        }
        parent.spec.network = network
        // Not its files: the kernel and initrd it names are on the parent's host, and a clone
        // restored from a stream never boots (no `-kernel`), so they never travel.
        try parent.spec.validate(checkFiles: false)
        var batch = CloneBatch(started: [])
        let names = admissibleNames(requested, pool: pool, into: &batch)
        guard !names.isEmpty else { return batch }
        // Pinned so that a clone destroyed meanwhile does not delete it; not released through
        // `unpin`, which would delete a snapshot just shipped if every clone of the batch failed.
        pins[id, default: 0] += 1
        defer {
            pins[id, default: 1] -= 1
            if pins[id] == 0 { pins[id] = nil }
        }
        await startClones(names, parent: parent, snapshot: snapshot, generation: snapshot.generation, into: &batch)
        return batch
    }

    /// Deletes an imported snapshot that no clone here uses; refused while one does.
    public func releaseImportedSnapshot(_ id: String) throws(QEMUError) {
        try prepareRoot()
        guard VMSpec.isValidName(id), FileManager.default.fileExists(atPath: snapshotPaths(id).directory) else {
            return
        }
        let users = snapshotUsers(id)
        guard users == 0 else { throw .refused("snapshot \(id) is used by \(users) clone(s) on this host") }
        guard releaseSnapshotIfUnused(id) else { throw .refused("snapshot \(id) is in use by a clone being started") }
    }
}
