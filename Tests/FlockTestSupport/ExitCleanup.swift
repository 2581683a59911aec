import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Kills every QEMU under registered state roots and deletes them when the test process exits,
/// so a failing VM test cannot leak QEMU processes into the next run.
public enum ExitCleanup {
    private static let roots = Mutex<[String]>([])

    /// Registers a state root (with `vms/<name>/qemu.pid` and `qmp.sock`, as FlockQEMU lays out).
    public static func register(_ root: String) {
        let first = roots.withLock { roots in
            defer { roots.append(root) }
            return roots.isEmpty
        }
        if first { atexit { ExitCleanup.run() } }
    }

    /// Only a process whose command line names the VM's QMP socket is killed: a pid file left
    /// behind may by now name someone else's process.
    static func run() {
        for root in roots.withLock({ $0 }) {
            for vm in (try? FileManager.default.contentsOfDirectory(atPath: "\(root)/vms")) ?? [] {
                let marker = "\(root)/vms/\(vm)/qmp.sock"
                guard let text = try? String(contentsOfFile: "\(root)/vms/\(vm)/qemu.pid", encoding: .utf8),
                    let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                    let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                    String(decoding: cmdline, as: UTF8.self).contains(marker)
                else { continue }
                kill(pid, SIGKILL)
            }
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}
