import FlockSystem
import Foundation
import Synchronization

/// Decides whether KVM really runs guests here, by booting a probe guest under it.
///
/// `/dev/kvm` existing proves little: some hosts (PVM-based ones, as on Flock's CI) expose it but
/// stock guests crawl and fault. Even firmware and a real-mode boot sector run fine there; what
/// fails is a real kernel switching to long mode. So when a kernel is at hand the probe boots it
/// (without an initrd, so it panics at once after bringing up the CPU, memory and console) and
/// requires the console to reach that point within seconds; with `-cpu host`, as VMs use, so a
/// host whose KVM rejects the CPU model fails the probe too. Without a kernel it falls back to
/// a 512-byte boot sector that writes "OK" to the debug port (weaker, but catches a dead KVM).
/// The answer is cached for the life of the process, because it costs a VM start.
public enum AcceleratorProbe {
    private static let cache = Mutex<[String: Bool]>([:])

    /// The accelerator to use for `requested`, and a warning when `auto` fell back to TCG.
    public static func resolve(
        _ requested: Accelerator, qemu: String, scratch: String, kernel: String? = nil
    ) async -> (accelerator: Accelerator, warning: String?) {
        switch requested {
        case .kvm: return (.kvm, nil)
        case .tcg: return (.tcg, nil)
        case .auto:
            if await works(.kvm, qemu: qemu, scratch: scratch, kernel: kernel) { return (.kvm, nil) }
            return (
                .tcg,
                "KVM does not run a probe guest on this host (or /dev/kvm is missing); using TCG software emulation, which is much slower"
            )
        }
    }

    /// Whether a probe guest runs under `accelerator`; cached per binary and accelerator.
    public static func works(
        _ accelerator: Accelerator, qemu: String, scratch: String, kernel: String? = nil,
        timeout: Duration = .seconds(5)
    ) async -> Bool {
        let key = "\(qemu)|\(accelerator.rawValue)|\(kernel ?? "")"
        if let known = cache.withLock({ $0[key] }) { return known }
        let result: Bool
        if accelerator == .kvm && access("/dev/kvm", R_OK | W_OK) != 0 {
            result = false
        } else {
            result = await boot(accelerator, qemu: qemu, scratch: scratch, kernel: kernel, timeout: timeout)
        }
        cache.withLock { $0[key] = result }
        return result
    }

    /// A boot sector: `mov al,'O'; out 0xe9,al; mov al,'K'; out 0xe9,al; cli; hlt; jmp $`.
    static let bootSector: [UInt8] = {
        var sector = [UInt8](repeating: 0, count: 512)
        let code: [UInt8] = [0xB0, 0x4F, 0xE6, 0xE9, 0xB0, 0x4B, 0xE6, 0xE9, 0xFA, 0xF4, 0xEB, 0xFE]
        sector.replaceSubrange(0..<code.count, with: code)
        sector[510] = 0x55
        sector[511] = 0xAA
        return sector
    }()

    /// Console lines a kernel prints once it has run in long mode with paging and reached its
    /// root mount; an initrd-less boot gets there (and panics) in well under a second on KVM.
    static let kernelMilestones = ["Kernel panic", "VFS: Unable to mount root", "Run /init"]

    private static func boot(
        _ accelerator: Accelerator, qemu: String, scratch: String, kernel: String?, timeout: Duration
    ) async -> Bool {
        let directory = "\(scratch)/probe-\(getpid())-\(accelerator.rawValue)"
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let disk = "\(directory)/boot.img"
        let output = "\(directory)/debugcon.txt"
        guard FileManager.default.createFile(atPath: disk, contents: Data(bootSector)) else { return false }
        var arguments = [
            "-machine", "pc", "-accel", accelerator.rawValue, "-cpu", accelerator == .kvm ? "host" : "max", "-m", "128",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-chardev", "file,id=probe,path=\(output)",
        ]
        let milestones: [String]
        if let kernel {
            arguments += [
                "-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4", "-serial", "chardev:probe",
            ]
            milestones = kernelMilestones
        } else {
            arguments += [
                "-drive", "file=\(disk),format=raw,if=ide,index=0", "-device", "isa-debugcon,chardev=probe,iobase=0xe9",
            ]
            milestones = ["OK"]
        }
        guard let process = try? await ChildProcess.start(qemu, arguments, stdout: "\(directory)/qemu.log") else {
            return false
        }
        defer { process.kill() }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if milestones.contains(where: { text.contains($0) }) { return true }
            if !process.isRunning {
                // -no-reboot: a kernel that panicked fast exits; check what it printed last.
                let final = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                return milestones.contains { final.contains($0) }
            }
            try? await Task.sleep(for: .milliseconds(25))
        }
        return false
    }
}
