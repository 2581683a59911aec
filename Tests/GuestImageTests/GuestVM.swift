import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One real guest under QEMU (TCG, 256 MB, 2 vCPUs), started the way the QEMU driver will start
/// it: the image's kernel and initrd, user-mode networking with the app's port forwarded to a
/// free loopback port, and the agent's virtio-serial port on a unix socket. All of its files
/// live in a fresh temporary directory that `stop()` removes.
final class GuestVM: @unchecked Sendable {
    struct BootError: Error, CustomStringConvertible {
        let description: String
    }

    /// The VM the current suite booted (set by the `bootedGuest` trait).
    @TaskLocal static var current: GuestVM?

    let dir: URL
    let httpPort: Int
    let agentSocket: String
    let consoleLog: URL
    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    static func qemuBinary() -> String? {
        ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts QEMU and waits (bounded) until `/healthz` answers 200 through the forwarded port.
    static func boot(missCostMs: Int = 50) throws -> GuestVM {
        try GuestImage.ensureBuilt()
        guard let qemu = qemuBinary() else {
            throw BootError(description: "qemu-system-x86_64 is not installed (bash Deploy/setup.sh installs it)")
        }
        let vm = try GuestVM(qemu: qemu, missCostMs: missCostMs)
        do {
            try vm.waitUntilServing()
        } catch {
            vm.stop()
            throw error
        }
        return vm
    }

    private init(qemu: String, missCostMs: Int) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flock-guest-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        httpPort = try freeLoopbackPort()
        agentSocket = dir.appendingPathComponent("agent.sock").path
        consoleLog = dir.appendingPathComponent("console.log")
        process = Process()
        process.executableURL = URL(fileURLWithPath: qemu)
        process.arguments = [
            "-accel", "tcg", "-m", "256", "-smp", "2",
            "-nographic", "-no-reboot", "-monitor", "none",
            "-kernel", GuestImage.kernel.path, "-initrd", GuestImage.initrd.path,
            "-append", "console=ttyS0 quiet panic=-1 flock.miss_cost_ms=\(missCostMs)",
            "-serial", "file:\(consoleLog.path)",
            "-netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:\(httpPort)-:8080",
            "-device", "virtio-net-pci,netdev=n0,romfile=",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", "socket,id=agent,path=\(agentSocket),server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=agent,name=org.flock.agent",
            "-pidfile", dir.appendingPathComponent("qemu.pid").path,
        ]
        let output = dir.appendingPathComponent("qemu.out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        try? handle.close()
        // Belt and braces: if the test process exits without reaching stop(), QEMU goes too.
        GuestVM.registerForExit(process.processIdentifier)
    }

    private func waitUntilServing() throws {
        // Up to 240 tries of at most ~0.5 s each: generous for a loaded CI machine under TCG.
        for _ in 0..<240 {
            guard process.isRunning else {
                throw BootError(description: "QEMU exited (\(process.terminationStatus)) before serving:\n\(console())")
            }
            if let response = try? HTTPConnection(port: httpPort).get("/healthz", close: true), response.status == 200 {
                return
            }
            usleep(250_000)
        }
        throw BootError(description: "the guest did not serve /healthz in time; console:\n\(console())")
    }

    /// The guest's serial console, for failure messages.
    func console() -> String {
        String((try? String(contentsOf: consoleLog, encoding: .utf8))?.suffix(3000) ?? "")
    }

    /// Kills QEMU (TERM, then KILL after a bounded wait) and removes the VM's directory.
    func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            process.terminate()
            for _ in 0..<50 where process.isRunning { usleep(100_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: dir)
    }

    deinit { stop() }

    private static let exitLock = NSLock()
    nonisolated(unsafe) private static var pidsToKill: Set<pid_t> = []
    nonisolated(unsafe) private static var exitHookInstalled = false

    private static func registerForExit(_ pid: pid_t) {
        exitLock.lock()
        defer { exitLock.unlock() }
        pidsToKill.insert(pid)
        if !exitHookInstalled {
            exitHookInstalled = true
            atexit {
                GuestVM.exitLock.lock()
                for pid in GuestVM.pidsToKill { kill(pid, SIGKILL) }
                GuestVM.exitLock.unlock()
            }
        }
    }
}
