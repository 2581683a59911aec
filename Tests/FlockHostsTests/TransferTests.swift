import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts
@testable import FlockQEMU

#if canImport(Glibc)
    import Glibc
#endif

/// The transfer on its own, through `flockctl host serve` on pipes (no ssh, no VM): holes are
/// recreated, the content arrives intact, a corrupted stream installs nothing.
extension HostsTests {
    /// A 256 MiB sparse "memory" file with `dataMiB` of data in 1 MiB extents, and a small "state".
    static func fakeSnapshot(in directory: String, dataMiB: Int) async throws -> ExportedSnapshot {
        let memory = "\(directory)/memory"
        let state = "\(directory)/state"
        let fd = open(memory, O_WRONLY | O_CREAT, 0o600)
        defer { close(fd) }
        #expect(ftruncate(fd, 256 << 20) == 0)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<dataMiB {
            for position in stride(from: 0, to: chunk.count, by: 4096) {
                chunk[position] = UInt8(truncatingIfNeeded: index + position)
            }
            _ = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index * 2) << 20) }
        }
        try Data(repeating: 7, count: 300_000).write(to: URL(fileURLWithPath: state))
        let local = QEMUDriver(configuration: QEMUDriverConfiguration(stateRoot: directory))
        let compatibility = await local.compatibility(machine: "q35", accelerator: .tcg)
        let spec = VMSpec(name: "tp-parent", pool: "tp", kernel: nil, initrd: nil, memoryMiB: 256, accelerator: .tcg)
        let parent = VMRecord(
            name: "tp-parent", pool: "tp", role: .parent, lineage: Instance.Lineage(), spec: spec, accelerator: .tcg,
            address: nil, port: nil, mac: "52:54:00:00:00:01", tap: nil, disk: nil, generation: 1, createdAt: Date())
        let record = SnapshotRecord(
            id: "tp-parent-g1-lazy", parent: "tp-parent", mode: .lazy, generation: 1, createdAt: Date(),
            pauseMilliseconds: 1, disk: nil, compatibility: compatibility)
        return ExportedSnapshot(record: record, parent: parent, files: [("memory", memory), ("state", state)])
    }

    private static func serve(_ root: String) async throws -> ChildProcess.Piped {
        try await ChildProcess.startPiped(
            try flockctl, ["host", "serve", "--state", root], stderr: "\(root)-stderr.log")
    }

    @Test func sparseTransferArrivesIntactAndCorruptionInstallsNothing() async throws {
        let source = try tmpfsScratch("tx-src")
        let host = try tmpfsScratch("tx-host")
        defer {
            for path in [source, host, "\(host)-stderr.log"] { try? FileManager.default.removeItem(atPath: path) }
        }
        let exported = try await Self.fakeSnapshot(in: source, dataMiB: 100)
        let plan = try SnapshotSender.plan(exported)
        #expect(plan.manifest.files[0].extents.count == 100 && plan.manifest.files[0].dataBytes == 100 << 20)
        let target = SSHTarget(user: "u", host: "local", identityFile: "-", knownHostsFile: "-", stateRoot: host)

        let started = ContinuousClock.now
        let session = try await Self.serve(host)
        let (shipped, moved) = try await BlockingCalls.run {
            try SnapshotShipment.exchange(
                plan, input: session.input, output: session.output, target: target, logPath: "/dev/null")
        }
        let elapsed = ContinuousClock.now - started
        close(session.input)
        close(session.output)
        #expect(await session.process.waitForExit(timeout: .seconds(20)) == 0)
        #expect(shipped && moved >= plan.manifest.dataBytes && moved < plan.manifest.dataBytes + (1 << 20))
        print("hosts: \(plan.manifest.dataBytes >> 20) MiB through host serve on pipes (no ssh) in \(elapsed)")

        let installed = "\(host)/snapshots/\(exported.record.id)"
        for file in ["memory", "state"] {
            #expect(FileManager.default.contentsEqual(atPath: "\(installed)/\(file)", andPath: "\(source)/\(file)"))
        }
        var info = stat()
        #expect(stat("\(installed)/memory", &info) == 0)
        #expect(info.st_size == 256 << 20 && Int(info.st_blocks) * 512 < 110 << 20, "holes recreated")
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(stat(installed, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect((try FileManager.default.contentsOfDirectory(atPath: "\(host)/incoming")).isEmpty)

        // A byte flipped in transit (after the sender hashed it): refused, nothing installed.
        var corrupt = plan
        corrupt.manifest.record.id = "tp-parent-g2-lazy"
        let stream = "\(source)/stream"
        let streamFD = open(stream, O_RDWR | O_CREAT, 0o600)
        defer { close(streamFD) }
        _ = try SnapshotSender.send(corrupt, to: streamFD)
        var byte: UInt8 = 0xff
        _ = pwrite(streamFD, &byte, 1, 4 << 20)
        let second = try await Self.serve(host)
        var request = HostRequest(id: 1, op: .snapshotReceive, deadline: .seconds(60))
        request.manifest = corrupt.manifest
        let writer = ByteWriter(fd: second.input)
        try writer.writeLine(HostJSON.encode(request))
        let reader = ByteReader(fd: second.output)
        let ready = try #require(try reader.readLine())
        #expect(String(decoding: ready, as: UTF8.self).contains("\"phase\":\"ready\""))
        let data = try Data(contentsOf: URL(fileURLWithPath: stream))
        // The host stops reading at the corrupt file, so the rest may meet a closed pipe.
        data.withUnsafeBytes { raw in _ = try? writer.write(raw) }
        let final = try #require(try reader.readLine())
        let refusal = try HostJSON.decode(HostAnswer.self, from: Data(final)).error
        close(second.input)
        close(second.output)
        await second.process.waitForExit(timeout: .seconds(20))
        #expect(refusal?.contains("file memory arrived corrupt") == true, "\(refusal ?? "")")
        #expect(!FileManager.default.fileExists(atPath: "\(host)/snapshots/tp-parent-g2-lazy"))
        #expect((try FileManager.default.contentsOfDirectory(atPath: "\(host)/incoming")).isEmpty)
    }
}
