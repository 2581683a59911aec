import FlockSystem
import Foundation

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
}
