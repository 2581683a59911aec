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
/// SHA-256, points a disk's layers at this host's copies, fsyncs, and renames the whole directory
/// into `snapshots/`. An interrupted transfer leaves only its staging directory, which the next
/// session removes; nothing half-written is ever under `snapshots/`, so a retry starts clean.
///
/// A disk's image is kept once by digest under `images/` (`HostStateRoot.image`), outside any
/// snapshot, since every snapshot of the parent sits on it: a host that holds it is not sent it.
struct SnapshotReceiver {
    let root: HostStateRoot
    let driver: QEMUDriver

    /// The largest file a manifest may announce (a guest's RAM is at most 64 GiB, see `VMSpec`).
    static let maxFileSize = 64 << 30
    static let snapshotFiles = Set(QEMUDriver.shippedFiles)
    static let rebaseLog = "rebase.log"

    /// Whether the manifest is to be received (false: it is held already), and which files the
    /// host holds already and must not be sent.
    struct Admission: Sendable {
        var needed: Bool
        var skip: Set<String>
    }

    /// A snapshot whose files are in its staging directory, not yet installed.
    struct Staged: Sendable {
        let id: String
        let directory: String
        let lock: ExclusiveLock
        let started: ContinuousClock.Instant
        var bytes: Int
        /// Each layer in the staging directory, top first, with what it is to sit on once installed.
        var layers: [(path: String, backing: String)]
        /// The image received (nil when the host held it) and where it is kept.
        var image: (received: String?, kept: String)?
    }

    /// Whether the manifest may be received here, and what is held already; throws a refusal
    /// that says what is wrong before a byte of data moves.
    func check(_ manifest: SnapshotManifest) async throws(HostError) -> Admission {
        let record = manifest.record
        guard isName(record.id) else {
            throw .remote("snapshot id '\(record.id)' is not a Flock snapshot id ([a-z0-9-]{1,63})")
        }
        guard isName(manifest.parent.name), isName(manifest.parent.pool) else {
            throw .remote("the snapshot's parent '\(manifest.parent.name)' or pool is not a Flock name")
        }
        guard record.mode == .lazy else {
            throw .remote("snapshot \(record.id) is not a lazy snapshot; only those can be shipped")
        }
        let hasDisk = manifest.parent.spec.disk != nil
        guard hasDisk == (record.disk != nil) else {
            throw .remote("snapshot \(record.id) and its parent disagree on whether there is a disk")
        }
        let layers = manifest.files.filter { $0.name.hasPrefix("layer-") }.count
        let allowed =
            Self.snapshotFiles.union(hasDisk ? [QEMUDriver.imageFile] : [])
            .union((0..<layers).map(QEMUDriver.layerFile))
        var names: [String] = []
        for file in manifest.files {
            guard allowed.contains(file.name), layers <= QEMUDriver.maxLayers else {
                throw .remote(
                    "the manifest names a file '\(file.name)'; only \(allowed.sorted().joined(separator: ", ")) travel")
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
        let required = Self.snapshotFiles.union(hasDisk ? [QEMUDriver.imageFile, QEMUDriver.layerFile(0)] : [])
        guard required.isSubset(of: Set(names)) else {
            throw .remote("the manifest of \(record.id) lacks \(required.subtracting(names).sorted())")
        }
        var skip: Set<String> = []
        if hasDisk {
            guard let sha = manifest.files.first(where: { $0.name == QEMUDriver.imageFile })?.sha256,
                sha.count == 64, sha.allSatisfy({ $0.isHexDigit && !$0.isUppercase })
            else { throw .remote("the image of \(record.id) needs its SHA-256 (64 lowercase hex digits)") }
            if FileManager.default.fileExists(atPath: imagePath(manifest, sha: sha)) {
                skip.insert(QEMUDriver.imageFile)
            }
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
        if driver.importedSnapshot(record.id) != nil { return Admission(needed: false, skip: []) }
        let needed = manifest.files.filter { !skip.contains($0.name) }.reduce(0) { $0 + $1.dataBytes }
        var space = statvfs()
        if statvfs(root.path, &space) == 0 {
            let free = Int(space.f_bavail) * Int(space.f_frsize)
            guard free > needed + (64 << 20) else {
                throw .remote(
                    "no room for snapshot \(record.id): it needs \(needed >> 20) MiB, \(root.path) has \(free >> 20) MiB free"
                )
            }
        }
        return Admission(needed: true, skip: skip)
    }

    /// Where this host keeps the image of a manifest with a disk.
    private func imagePath(_ manifest: SnapshotManifest, sha: String) -> String {
        root.image(sha, qcow2: manifest.parent.spec.disk?.hasSuffix(".qcow2") ?? false)
    }

    /// Reads the files' data from `reader` into a staging directory, with the records rewritten
    /// for this host (the disk's layers and image at their places here). Blocking: run it off the
    /// cooperative pool. On failure nothing is left.
    func stage(
        _ manifest: SnapshotManifest, skip: Set<String>, from reader: ByteReader
    ) throws(HostError) -> Staged {
        let started = ContinuousClock.now
        let id = manifest.record.id
        let staging = "\(root.incoming)/\(id)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try createPrivateDirectory(staging)
        } catch {
            throw .io("cannot create \(staging): \(error)")
        }
        do throws(HostError) {
            let lock: ExclusiveLock
            do {
                lock = try ExclusiveLock(path: "\(staging)/lock")
            } catch {
                throw .io("cannot lock \(staging): \(error)")
            }
            var staged = Staged(id: id, directory: staging, lock: lock, started: started, bytes: 0, layers: [])
            for file in manifest.files where !skip.contains(file.name) {
                staged.bytes += try write(file, to: "\(staging)/\(file.name)", from: reader)
            }
            var record = manifest.record
            var parent = manifest.parent
            if let image = manifest.files.first(where: { $0.name == QEMUDriver.imageFile }), let sha = image.sha256 {
                let kept = imagePath(manifest, sha: sha)
                var received: String?
                if !skip.contains(image.name) {
                    received = "\(staging)/\(image.name)"
                    let digest = try SparseFile.sha256(of: "\(staging)/\(image.name)")
                    guard digest == sha else {
                        throw .transfer("the image arrived with SHA-256 \(digest), the manifest says \(sha)")
                    }
                }
                staged.image = (received, kept)
                let final = driver.snapshotDirectory(id)
                let count = manifest.files.filter { $0.name.hasPrefix("layer-") }.count
                staged.layers = (0..<count).map { index in
                    (
                        "\(staging)/\(QEMUDriver.layerFile(index))",
                        index + 1 < count ? "\(final)/\(QEMUDriver.layerFile(index + 1))" : kept
                    )
                }
                record.disk = "\(final)/\(QEMUDriver.layerFile(0))"
                parent.spec.disk = kept
                parent.disk = nil
            }
            do {
                try driver.writeImportRecords(record, parent: parent, inStaging: staging)
            } catch {
                throw .io("cannot write the records of \(id): \(error.message)")
            }
            return staged
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// Points each staged layer at the one under it as installed here (`qemu-img rebase -u`: the
    /// header only; the data is the parent's, unchanged). A failure says what qemu-img printed.
    func rebaseLayers(_ staged: Staged) async throws(HostError) {
        let log = "\(staged.directory)/\(Self.rebaseLog)"
        for layer in staged.layers {
            let format = layer.backing.hasSuffix(".qcow2") ? "qcow2" : "raw"
            let status: Int32
            do {
                status = try await ChildProcess.run(
                    "qemu-img", ["rebase", "-u", "-f", "qcow2", "-b", layer.backing, "-F", format, layer.path],
                    log: log,
                    timeout: .seconds(30))
            } catch {
                throw .io("qemu-img rebase of \(layer.path): \(error)")
            }
            guard status == 0 else {
                let said = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw .io(
                    "qemu-img rebase of \(layer.path) onto \(layer.backing) failed (status \(status)): \(said.suffix(300))"
                )
            }
        }
    }

    /// Installs a staged snapshot: fsynced, its image kept (unless held meanwhile), then the
    /// directory renamed into `snapshots/`. Blocking. On failure the staging directory goes.
    func install(_ staged: Staged) throws(HostError) -> ReceiveReport {
        defer { try? FileManager.default.removeItem(atPath: staged.directory) }
        if let image = staged.image, let received = image.received, !FileManager.default.fileExists(atPath: image.kept)
        {
            guard rename(received, image.kept) == 0 else {
                throw .io("cannot move \(received) to \(image.kept): \(errnoText())")
            }
            try fsyncPath(root.images)
        }
        try fsyncPath(staged.directory)
        _ = staged.lock
        try? FileManager.default.removeItem(atPath: "\(staged.directory)/\(Self.rebaseLog)")
        try? FileManager.default.removeItem(atPath: "\(staged.directory)/lock")
        let final = driver.snapshotDirectory(staged.id)
        if rename(staged.directory, final) != 0 {
            // Another session installed it meanwhile: the same snapshot, so keep theirs.
            guard errno == EEXIST || errno == ENOTEMPTY else {
                throw .io("cannot move \(staged.directory) to \(final): \(errnoText())")
            }
        }
        try fsyncPath("\(root.path)/snapshots")
        let elapsed = ContinuousClock.now - staged.started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return ReceiveReport(bytes: staged.bytes, seconds: seconds)
    }

    /// Removes a staged snapshot that will not be installed.
    func discard(_ staged: Staged) {
        try? FileManager.default.removeItem(atPath: staged.directory)
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
