import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Copies a guest-memory file into an immutable snapshot, as fast as the parent's pause allows.
///
/// The parent is paused while this runs, so its cost is the parent's pause. Guest RAM on tmpfs
/// is sparse: pages the guest never touched are holes. Copying only the data extents
/// (`SEEK_DATA`/`SEEK_HOLE`) with `copy_file_range` (in-kernel, no trip through user space)
/// makes the cost follow the memory the guest really uses, not its configured size.
enum FrozenCopy {
    /// Linux's `lseek` whences, which Glibc's Swift overlay does not export.
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4

    private typealias CopyFileRange =
        @convention(c) (
            Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32
        ) -> Int

    /// glibc's `copy_file_range`, looked up at run time because the Swift overlay hides it.
    private static let copyFileRange: CopyFileRange? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "copy_file_range") else { return nil }
        return unsafeBitCast(symbol, to: CopyFileRange.self)
    }()

    /// Copies `source` to a new 0600 file `destination` of the same size; returns bytes copied.
    @discardableResult
    static func copy(from source: String, to destination: String) throws(QEMUError) -> Int {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw .snapshot("cannot open the parent's memory \(source): \(errnoText())") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw .snapshot("cannot create the snapshot memory \(destination): \(errnoText())") }
        var ok = false
        defer {
            close(output)
            if !ok { unlink(destination) }
        }
        var info = stat()
        guard fstat(input, &info) == 0 else { throw .snapshot("cannot stat \(source): \(errnoText())") }
        let size = Int(info.st_size)
        guard ftruncate(output, off_t(size)) == 0 else { throw .snapshot("cannot size \(destination): \(errnoText())") }
        var copied = 0
        var offset = 0
        while offset < size {
            let dataStart = lseek(input, off_t(offset), seekData)
            if dataStart < 0 {
                if errno == ENXIO { break }  // no data after offset: the rest is a hole
                throw .snapshot("cannot scan \(source): \(errnoText())")
            }
            var holeStart = Int(lseek(input, dataStart, seekHole))
            if holeStart < 0 { holeStart = size }
            copied += try copyRange(input, output, from: Int(dataStart), to: holeStart, source: source)
            offset = holeStart
        }
        ok = true
        return copied
    }

    private static func copyRange(
        _ input: Int32, _ output: Int32, from start: Int, to end: Int, source: String
    ) throws(QEMUError) -> Int {
        var inOffset = off_t(start)
        var outOffset = off_t(start)
        var remaining = end - start
        var total = 0
        while remaining > 0 {
            guard let copyFileRange else {
                return total + (try copyPlain(input, output, from: Int(inOffset), to: end, source: source))
            }
            let count = copyFileRange(input, &inOffset, output, &outOffset, remaining, 0)
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EXDEV || errno == ENOSYS || errno == EINVAL {
                    return total + (try copyPlain(input, output, from: Int(inOffset), to: end, source: source))
                }
                throw .snapshot("cannot copy \(source): \(errnoText())")
            }
            if count == 0 { break }
            remaining -= count
            total += count
        }
        return total
    }

    private static func copyPlain(
        _ input: Int32, _ output: Int32, from start: Int, to end: Int, source: String
    ) throws(QEMUError) -> Int {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = start
        while offset < end {
            let want = min(buffer.count, end - offset)
            let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, want, off_t(offset)) }
            guard count > 0 else { throw .snapshot("cannot read \(source): \(errnoText())") }
            let written = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress, count, off_t(offset)) }
            guard written == count else { throw .snapshot("cannot write the snapshot: \(errnoText())") }
            offset += count
        }
        return end - start
    }
}
