import Crypto
import FlockSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The data extents of a sparse file (a lazy snapshot's memory file is mostly holes: RAM the
/// guest never touched), found with `SEEK_DATA`/`SEEK_HOLE`, so that a transfer sends data only
/// and the receiver recreates the holes by sizing the file first.
enum SparseFile {
    // Linux's values; Glibc's module exports them only under _GNU_SOURCE.
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    static func extents(of path: String) throws(HostError) -> (size: Int, extents: [SnapshotManifest.Extent]) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(path): \(errnoText())") }
        let size = Int(info.st_size)
        var extents: [SnapshotManifest.Extent] = []
        var offset = 0
        while offset < size {
            let data = lseek(fd, off_t(offset), seekData)
            if data < 0 {
                if errno == ENXIO { break }  // only a hole is left
                throw .io("SEEK_DATA in \(path): \(errnoText())")
            }
            var hole = lseek(fd, data, seekHole)
            if hole < 0 { hole = off_t(size) }
            extents.append(SnapshotManifest.Extent(offset: Int(data), length: Int(hole - data)))
            offset = Int(hole)
        }
        return (size, extents)
    }

    /// SHA-256 (hex) of a whole file, holes read as zeros, as `sha256sum` prints it: a disk
    /// image's address on a host. Remembered by path, size and modification time, so that a
    /// parent's image (hundreds of MiB) is read once per process, not once per shipment.
    static func sha256(of path: String) throws(HostError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .io("cannot stat \(path): \(errnoText())") }
        let key = "\(path)\u{0}\(info.st_size)\u{0}\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        if let known = digests.withLock({ $0[key] }) { return known }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .io("cannot read \(path): \(errnoText())") }
            if count == 0 { break }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        digests.withLock { $0[key] = digest }
        return digest
    }

    private static let digests = Mutex<[String: String]>([:])
}
