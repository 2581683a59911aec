import Crypto
import FlockCore
import FlockQEMU
import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The receiving side of a snapshot transfer, on the host: checks the manifest, then writes the
/// data into a private staging directory (0700, files 0600, holes recreated), checks each file's
/// SHA-256, fsyncs, and renames the whole directory into `snapshots/`. An interrupted transfer
/// leaves only its staging directory, which the next session removes; nothing half-written is
/// ever under `snapshots/`, so a retry starts clean.
struct SnapshotReceiver {
    let root: HostStateRoot
    let driver: QEMUDriver

    /// The largest file a manifest may announce (a guest's RAM is at most 64 GiB, see `VMSpec`).
    static let maxFileSize = 64 << 30
    static let snapshotFiles = Set(QEMUDriver.shippedFiles)

    /// Whether the manifest may be received here (false: it is held already); throws a refusal
    /// that says what is wrong before a byte of data moves.
    func check(_ manifest: SnapshotManifest) async throws(HostError) -> Bool {
        let record = manifest.record
        guard isName(record.id) else {
            throw .remote("snapshot id '\(record.id)' is not a Flock snapshot id ([a-z0-9-]{1,63})")
        }
        guard isName(manifest.parent.name), isName(manifest.parent.pool) else {
            throw .remote("the snapshot's parent '\(manifest.parent.name)' or pool is not a Flock name")
        }
        guard record.mode == .lazy, record.disk == nil else {
            throw .remote("snapshot \(record.id) is not a lazy snapshot without a disk; only those can be shipped")
        }
        var names: [String] = []
        for file in manifest.files {
            guard Self.snapshotFiles.contains(file.name) else {
                throw .remote(
                    "the manifest names a file '\(file.name)'; only \(Self.snapshotFiles.sorted().joined(separator: " and ")) travel"
                )
            }
            guard !names.contains(file.name) else { throw .remote("the manifest names '\(file.name)' twice") }
            names.append(file.name)
            guard (0...Self.maxFileSize).contains(file.size) else {
                throw .remote("file \(file.name) announces \(file.size) bytes; at most \(Self.maxFileSize)")
            }
            var end = 0
            for extent in file.extents {
                guard extent.offset >= end, extent.length > 0, extent.offset + extent.length <= file.size else {
                    throw .remote("file \(file.name) has an extent out of order or past its size")
                }
                end = extent.offset + extent.length
            }
        }
        guard Self.snapshotFiles.isSubset(of: Set(names)) else {
            throw .remote("the manifest of \(record.id) lacks \(Self.snapshotFiles.subtracting(names).sorted())")
        }
        guard let recorded = record.compatibility else {
            throw .remote("snapshot \(record.id) records no QEMU version, machine type or CPU model")
        }
        let here = await driver.compatibility(
            machine: manifest.parent.spec.machine, accelerator: manifest.parent.accelerator)
        let differences = here.differences(fromSnapshot: recorded)
        guard differences.isEmpty else {
            throw .remote(
                "snapshot \(record.id) cannot be restored on this host: \(differences.joined(separator: "; "))")
        }
        if driver.importedSnapshot(record.id) != nil { return false }
        let needed = manifest.dataBytes
        var space = statvfs()
        if statvfs(root.path, &space) == 0 {
            let free = Int(space.f_bavail) * Int(space.f_frsize)
            guard free > needed + (64 << 20) else {
                throw .remote(
                    "no room for snapshot \(record.id): it needs \(needed >> 20) MiB, \(root.path) has \(free >> 20) MiB free"
                )
            }
        }
        return true
    }

    /// Reads the files' data from `reader` and installs the snapshot. Blocking: run it off the
    /// cooperative pool. On failure nothing is left but a removed staging directory.
    func receive(
        _ manifest: SnapshotManifest, from reader: ByteReader
    ) throws(HostError) -> ReceiveReport {
        let started = ContinuousClock.now
        let id = manifest.record.id
        let staging = "\(root.incoming)/\(id)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try createPrivateDirectory(staging)
        } catch {
            throw .io("cannot create \(staging): \(error)")
        }
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let lock: ExclusiveLock
        do {
            lock = try ExclusiveLock(path: "\(staging)/lock")
        } catch {
            throw .io("cannot lock \(staging): \(error)")
        }
        var bytes = 0
        for file in manifest.files {
            bytes += try write(file, to: "\(staging)/\(file.name)", from: reader)
        }
        do {
            try driver.writeImportRecords(manifest.record, parent: manifest.parent, inStaging: staging)
        } catch {
            throw .io("cannot write the records of \(id): \(error.message)")
        }
        try fsyncPath(staging)
        _ = lock
        try? FileManager.default.removeItem(atPath: "\(staging)/lock")
        let final = driver.snapshotDirectory(id)
        if rename(staging, final) != 0 {
            // Another session installed it meanwhile: the same snapshot, so keep theirs.
            guard errno == EEXIST || errno == ENOTEMPTY else {
                throw .io("cannot move \(staging) to \(final): \(errnoText())")
            }
        }
        try fsyncPath("\(root.path)/snapshots")
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ReceiveReport(bytes: bytes, seconds: seconds)
    }

    /// Writes one file: sized first (the holes), then each extent at its offset, hashed as it
    /// arrives and compared with the sender's SHA-256 that follows; fsynced. Returns the data bytes.
    private func write(
        _ file: SnapshotManifest.File, to path: String, from reader: ByteReader
    ) throws(HostError) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .io("cannot create \(path): \(errnoText())") }
        defer { close(fd) }
        guard ftruncate(fd, off_t(file.size)) == 0 else { throw .io("cannot size \(path): \(errnoText())") }
        var hasher = SHA256()
        var bytes = 0
        for extent in file.extents {
            var offset = extent.offset
            try reader.readExactly(extent.length) { (chunk) throws(HostError) in
                hasher.update(bufferPointer: chunk)
                var done = 0
                while done < chunk.count {
                    let count = pwrite(fd, chunk.baseAddress! + done, chunk.count - done, off_t(offset + done))
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { throw .io("cannot write \(path): \(errnoText())") }
                    done += count
                }
                offset += chunk.count
            }
            bytes += extent.length
        }
        var sent: [UInt8] = []
        try reader.readExactly(32) { chunk in sent.append(contentsOf: chunk) }
        let digest = Array(hasher.finalize())
        guard digest == sent else {
            throw .transfer("file \(file.name) arrived corrupt: its SHA-256 differs from the sender's")
        }
        guard fsync(fd) == 0 else { throw .io("cannot fsync \(path): \(errnoText())") }
        return bytes
    }

    private func fsyncPath(_ path: String) throws(HostError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io("cannot fsync \(path): \(errnoText())") }
    }

    private func isName(_ name: String) -> Bool {
        (1...63).contains(name.count)
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
