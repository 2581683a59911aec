import Crypto
import FlockQEMU
import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The sending side of a snapshot transfer: builds the manifest of an exported snapshot and
/// streams its data extents, each file followed by the SHA-256 of what was sent (32 raw bytes),
/// which the receiver compares with its own before it keeps the file.
enum SnapshotSender {
    /// The files of a shipment in the order they travel: the snapshot's, then the boot files.
    struct Plan: Sendable {
        var manifest: SnapshotManifest
        /// The local path of each manifest file, by name.
        var paths: [String: String]
    }

    static func plan(_ exported: ExportedSnapshot) throws(HostError) -> Plan {
        var files: [SnapshotManifest.File] = []
        var paths: [String: String] = [:]
        for (name, path) in exported.files {
            let (size, extents) = try SparseFile.extents(of: path)
            files.append(SnapshotManifest.File(name: name, size: size, sha256: nil, extents: extents))
            paths[name] = path
        }
        for (name, path) in [("kernel", exported.parent.spec.kernel), ("initrd", exported.parent.spec.initrd)] {
            guard let path else { continue }
            let (size, extents) = try SparseFile.extents(of: path)
            files.append(
                SnapshotManifest.File(name: name, size: size, sha256: try SparseFile.sha256(of: path), extents: extents)
            )
            paths[name] = path
        }
        return Plan(
            manifest: SnapshotManifest(record: exported.record, parent: exported.parent, files: files), paths: paths)
    }

    /// Streams the data of every file not in `skipping` to `fd`; returns the bytes of data sent.
    static func send(_ plan: Plan, skipping: Set<String>, to fd: Int32) throws(HostError) -> Int {
        var sent = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for file in plan.manifest.files where !skipping.contains(file.name) {
            guard let path = plan.paths[file.name] else { continue }
            let source = open(path, O_RDONLY | O_CLOEXEC)
            guard source >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
            defer { close(source) }
            var hasher = SHA256()
            for extent in file.extents {
                var offset = extent.offset
                let end = extent.offset + extent.length
                while offset < end {
                    let want = min(chunk.count, end - offset)
                    let count = chunk.withUnsafeMutableBytes { pread(source, $0.baseAddress, want, off_t(offset)) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else {
                        throw .io("cannot read \(path) at \(offset): \(count < 0 ? errnoText() : "it shrank")")
                    }
                    var failure: HostError?
                    chunk.withUnsafeBytes { raw in
                        let part = UnsafeRawBufferPointer(rebasing: raw[..<count])
                        hasher.update(bufferPointer: part)
                        do throws(HostError) { try ByteWriter.writeAll(fd, part) } catch { failure = error }
                    }
                    if let failure { throw failure }
                    offset += count
                    sent += count
                }
            }
            let digest = Array(hasher.finalize())
            var failure: HostError?
            digest.withUnsafeBytes { raw in
                do throws(HostError) { try ByteWriter.writeAll(fd, raw) } catch { failure = error }
            }
            if let failure { throw failure }
        }
        return sent
    }
}
