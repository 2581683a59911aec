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
    /// The files of a shipment in the order they travel.
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
            let digest = name == QEMUDriver.imageFile ? try SparseFile.sha256(of: path) : nil
            files.append(SnapshotManifest.File(name: name, size: size, sha256: digest, extents: extents))
            paths[name] = path
        }
        return Plan(
            manifest: SnapshotManifest(record: exported.record, parent: exported.parent, files: files), paths: paths)
    }

    /// Streams the data of every file not in `skipping` (held by the host) to `fd`; returns the
    /// bytes of data sent.
    ///
    /// A memory file's extents are often a page or two (the guest's scattered pages), so extents
    /// are gathered into one 1 MiB buffer and written when it is full: one write per extent would
    /// cost ssh a packet and a wake-up per page.
    static func send(_ plan: Plan, skipping: Set<String> = [], to fd: Int32) throws(HostError) -> Int {
        var sent = 0
        var output = OutputBuffer(fd: fd)
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
                    if output.isFull { try output.flush() }
                    let count = try output.append(from: source, at: offset, upTo: end - offset, path: path) { part in
                        hasher.update(bufferPointer: part)
                    }
                    offset += count
                    sent += count
                }
            }
            let digest = Array(hasher.finalize())
            if output.isFull { try output.flush() }
            digest.withUnsafeBytes { raw in output.append(raw) }
        }
        try output.flush()
        return sent
    }

    /// The 1 MiB a sender fills before it writes.
    private struct OutputBuffer: ~Copyable {
        let fd: Int32
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        var used = 0

        init(fd: Int32) { self.fd = fd }

        deinit { storage.deallocate() }

        var isFull: Bool { used + 64 > storage.count }

        /// Reads up to `limit` bytes of `source` at `offset` into the free space; hands them to
        /// `seen` (the hasher) and returns how many.
        mutating func append(
            from source: Int32, at offset: Int, upTo limit: Int, path: String,
            _ seen: (UnsafeRawBufferPointer) -> Void
        ) throws(HostError) -> Int {
            let want = min(storage.count - used, limit)
            while true {
                let count = pread(source, storage.baseAddress! + used, want, off_t(offset))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    throw .io("cannot read \(path) at \(offset): \(count < 0 ? errnoText() : "it shrank")")
                }
                seen(UnsafeRawBufferPointer(rebasing: storage[used..<(used + count)]))
                used += count
                return count
            }
        }

        /// Copies a few bytes (a digest) in; there is always room for them (`isFull` keeps 64).
        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            storage.baseAddress!.advanced(by: used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            used += bytes.count
        }

        mutating func flush() throws(HostError) {
            guard used > 0 else { return }
            try ByteWriter.writeAll(fd, UnsafeRawBufferPointer(rebasing: storage[..<used]))
            used = 0
        }
    }
}
