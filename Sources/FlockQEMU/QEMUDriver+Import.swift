import FlockCore
import FlockSystem
import Foundation

/// A lazy snapshot as it leaves its parent's host: its record, the parent's record (the spec and
/// accelerator its clones restore with) and the files that carry guest state.
public struct ExportedSnapshot: Sendable {
    public var record: SnapshotRecord
    public var parent: VMRecord
    /// The files to ship, by their name in the snapshot's directory: `memory` and `state`, and
    /// for a parent with a disk its frozen layer and the layers under it, top first
    /// (`QEMUDriver.layerFile`), then the spec's image (`QEMUDriver.imageFile`).
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
    /// The names of the files every shipped snapshot carries.
    public static let shippedFiles = ["memory", "state"]
    /// A parent's disk travels as its snapshot's frozen layer and the layers under it, each a
    /// qcow2 file (`layer-0.qcow2` the frozen one), and the spec's image, which a host keeps
    /// once by digest since every snapshot of the parent sits on it.
    public static func layerFile(_ index: Int) -> String { "layer-\(index).qcow2" }
    public static let imageFile = "image"
    /// More layers than this means compaction is not keeping the chain short.
    public static let maxLayers = 32

    /// Takes (or reuses) a lazy snapshot of a running parent and pins it until `releaseExport`,
    /// so it is not deleted while it is being shipped. With a disk, the snapshot's frozen layer
    /// and every layer under it ship too, as the parent's QEMU reports its chain; an image that
    /// has a backing file of its own is refused (it would have to travel too): flatten it.
    public func exportSnapshot(ofParent name: String) async throws(QEMUError) -> ExportedSnapshot {
        try prepareRoot()
        guard let parent = record(named: name), parent.role == .parent else { throw .notFound(name) }
        let snapshot = try await pinnedSnapshot(of: parent, mode: .lazy)
        let paths = snapshotPaths(snapshot.id)
        var files = [("memory", paths.memory), ("state", paths.state)]
        if let image = parent.spec.disk {
            do {
                files += try await diskFiles(of: parent, frozen: snapshot.disk, image: image)
            } catch {
                unpin(snapshot.id)
                throw error
            }
        }
        return ExportedSnapshot(record: snapshot, parent: parent, files: files)
    }

    /// The frozen layer, the layers under it and the image, from the parent's chain (active layer
    /// first, as `diskChain` reads it from QEMU).
    private func diskFiles(
        of parent: VMRecord, frozen: String?, image: String
    ) async throws(QEMUError) -> [(String, String)] {
        guard let frozen else { throw .snapshot("the snapshot of \(parent.name) records no frozen disk layer") }
        let qmp = try await QMPClient.connect(path: paths(parent.name).qmpSocket, timeout: .seconds(5))
        defer { qmp.close() }
        let chain = try await diskChain(qmp)
        guard let top = chain.firstIndex(of: frozen), let bottom = chain.firstIndex(of: image), top < bottom else {
            throw .snapshot("the disk chain of \(parent.name) (\(chain)) does not run from \(frozen) to \(image)")
        }
        guard bottom == chain.count - 1 else {
            throw .refused(
                "the image \(image) of \(parent.name) has a backing file (\(chain[bottom + 1])), which would have to travel too; flatten it with qemu-img convert"
            )
        }
        guard bottom - top <= Self.maxLayers else {
            throw .snapshot(
                "the disk chain of \(parent.name) has \(bottom - top) layers under its snapshot; at most \(Self.maxLayers) travel"
            )
        }
        return chain[top..<bottom].enumerated().map { (Self.layerFile($0.offset), $0.element) } + [
            (Self.imageFile, image)
        ]
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

    /// The disk images the imported snapshots here sit on (their parents' `spec.disk`).
    public nonisolated func imagesInUse() -> Set<String> {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/snapshots")) ?? []
        return Set(ids.compactMap { JSONFile.read(VMRecord.self, from: snapshotPaths($0).parentRecord)?.spec.disk })
    }

    /// An imported snapshot, if this host holds all of it.
    public nonisolated func importedSnapshot(_ id: String) -> SnapshotRecord? {
        guard VMSpec.isValidName(id) else { return nil }
        let paths = snapshotPaths(id)
        guard let record = JSONFile.read(SnapshotRecord.self, from: paths.metadata), record.id == id,
            FileManager.default.fileExists(atPath: paths.parentRecord),
            Self.shippedFiles.allSatisfy({ FileManager.default.fileExists(atPath: "\(paths.directory)/\($0)") }),
            record.disk.map({ FileManager.default.fileExists(atPath: $0) }) ?? true
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
        guard snapshot.mode == .lazy else {
            throw .refused("snapshot \(id) is not a lazy snapshot; only those are restored from a shipment")
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
        // Not its kernel and initrd: they are on the parent's host, and a clone restored from a
        // stream never boots (no `-kernel`), so they never travel. Its disk is this host's copy.
        try parent.spec.validate(checkFiles: false)
        if let image = parent.spec.disk, !FileManager.default.fileExists(atPath: image) {
            throw .snapshot("snapshot \(id) sits on the image \(image), which this host no longer holds")
        }
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
