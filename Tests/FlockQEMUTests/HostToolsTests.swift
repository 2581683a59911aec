import FlockTestSupport
import Foundation
import Testing

@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct AcceleratorProbeTests {
    /// The probe really boots: under TCG its boot sector prints OK.
    @Test func tcgRunsTheProbeGuest() async throws {
        let scratch = try tmpfsScratch("probe")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        #expect(await AcceleratorProbe.works(.tcg, qemu: "qemu-system-x86_64", scratch: scratch, timeout: .seconds(20)))
        #expect(filesUnder(scratch).isEmpty, "the probe cleans up after itself")
    }

    /// The kernel probe really boots a kernel: under TCG the guest kernel reaches its root mount.
    @Test func tcgBootsTheProbeKernel() async throws {
        let scratch = try tmpfsScratch("probek")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        #expect(
            await AcceleratorProbe.works(
                .tcg, qemu: "qemu-system-x86_64", scratch: scratch, kernel: GuestImage.kernel, timeout: .seconds(30)))
    }

    /// On these hosts /dev/kvm exists but a stock kernel does not run under it: auto must pick
    /// TCG and warn. (Set FLOCK_REAL_KVM on a host with working KVM to skip this.)
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FLOCK_REAL_KVM"] == nil))
    func autoFallsBackToTCGWithAWarning() async throws {
        let scratch = try tmpfsScratch("probekvm")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (accelerator, warning) = await AcceleratorProbe.resolve(
            .auto, qemu: "qemu-system-x86_64", scratch: scratch, kernel: GuestImage.kernel)
        #expect(accelerator == .tcg)
        #expect(warning?.contains("TCG") == true)
        // Cached: the second answer needs no boot and no scratch directory.
        let again = await AcceleratorProbe.resolve(
            .auto, qemu: "qemu-system-x86_64", scratch: "/nonexistent", kernel: GuestImage.kernel)
        #expect(again.accelerator == .tcg)
    }

    @Test func aMissingBinaryMeansNotWorking() async {
        #expect(await AcceleratorProbe.works(.tcg, qemu: "/nonexistent/qemu", scratch: "/dev/shm") == false)
    }
}

@Suite struct FrozenCopyTests {
    @Test func copiesDataKeepsHolesAndIsPrivate() throws {
        let directory = try tmpfsScratch("copy")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = "\(directory)/ram"
        let fd = open(source, O_RDWR | O_CREAT, 0o600)
        #expect(ftruncate(fd, 64 << 20) == 0)
        let page = [UInt8](repeating: 0xAB, count: 4096)
        for offset in [0, 8 << 20, (64 << 20) - 4096] {
            _ = page.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(offset)) }
        }
        close(fd)
        let copied = try FrozenCopy.copy(from: source, to: "\(directory)/frozen")
        #expect(copied < 1 << 20, "only the data extents are copied, got \(copied)")
        let original = try Data(contentsOf: URL(fileURLWithPath: source))
        let frozen = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/frozen"))
        #expect(original == frozen)
        #expect(try permissions("\(directory)/frozen") == 0o600)
        var info = stat()
        stat("\(directory)/frozen", &info)
        #expect(info.st_blocks * 512 < 1 << 20, "the copy stays sparse")
        // An existing destination is never overwritten.
        #expect(throws: QEMUError.self) { try FrozenCopy.copy(from: source, to: "\(directory)/frozen") }
    }

    @Test func aMissingSourceIsASnapshotError() throws {
        let error = #expect(throws: QEMUError.self) {
            try FrozenCopy.copy(from: "/nonexistent/ram", to: "/dev/shm/never")
        }
        #expect(error?.isSnapshot == true)
    }
}

@Suite struct LineSplitterTests {
    @Test func splitsAcrossChunksAndStripsCR() {
        var splitter = LineSplitter(limit: 100)
        #expect(splitter.feed(Array("ab".utf8)[...]) == [])
        #expect(splitter.feed(Array("c\r\nd\n".utf8)[...]) == [.line(Array("abc".utf8)), .line(Array("d".utf8))])
    }

    @Test func overLongLinesAreDroppedOnceAndTheStreamRecovers() {
        var splitter = LineSplitter(limit: 10)
        #expect(splitter.feed(Array(repeating: UInt8(ascii: "x"), count: 25)[...]) == [.tooLong])
        #expect(splitter.feed(Array("yyy\nok\n".utf8)[...]) == [.line(Array("ok".utf8))])
    }
}
