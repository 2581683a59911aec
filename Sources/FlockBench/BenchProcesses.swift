import FlockQEMU
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Memory of a QEMU process as the kernel accounts it.
struct ProcessMemory: Sendable {
    /// Proportional set size: shared pages split between the processes that map them.
    var pssKiB: Int
    /// Pages only this process maps (what it alone costs the host).
    var privateKiB: Int

    /// Reads `/proc/PID/smaps_rollup` (Linux ≥ 4.14): one summary instead of walking smaps.
    static func read(pid: Int32) -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else {
            return nil
        }
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, parts[0].hasSuffix(":"), let kib = Int(parts[1]) else { continue }
            fields[String(parts[0].dropLast())] = kib
        }
        guard let pss = fields["Pss"] else { return nil }
        return ProcessMemory(
            pssKiB: pss, privateKiB: (fields["Private_Clean"] ?? 0) + (fields["Private_Dirty"] ?? 0))
    }
}

/// Bytes a directory's files really occupy (allocated blocks, not apparent size): a lazy
/// snapshot's memory file is sparse, and on tmpfs its blocks are host RAM.
func allocatedBytes(under directory: String) -> Int {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return 0 }
    var total = 0
    for case let relative as String in walker {
        var info = stat()
        if lstat("\(directory)/\(relative)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            total += Int(info.st_blocks) * 512
        }
    }
    return total
}

/// The safety net behind the bench's orderly clean-up: kills every QEMU whose pid file lies under
/// the bench's private state root, then deletes the root.
///
/// Used on Ctrl-C, SIGTERM and errors, when the driver may be mid-operation. A pid is signalled
/// only if its command line names the directory of its pid file (pids are reused), and only
/// roots the bench created itself are passed here, so nothing else on the machine is touched.
public enum BenchReaper {
    public static func killAll(under root: String, removeRoot: Bool) {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        var pidFiles: [String] = []
        for case let relative as String in walker where relative.hasSuffix("qemu.pid") {
            pidFiles.append("\(root)/\(relative)")
        }
        for file in pidFiles {
            let directory = (file as NSString).deletingLastPathComponent
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0,
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: cmdline, as: UTF8.self).contains(directory + "/")
            else { continue }
            kill(pid, SIGKILL)
        }
        if removeRoot { try? FileManager.default.removeItem(atPath: root) }
    }

}

extension QEMUDriver {
    /// The benches' orderly clean-up: destroys every clone, then stops every parent; errors are
    /// ignored, since `BenchReaper` kills whatever is left.
    func stopEveryVM() async {
        for report in await list() where report.record.role == .clone {
            try? await destroy(name: report.record.name)
        }
        for report in await list() where report.record.role == .parent {
            try? await stopParent(name: report.record.name)
        }
    }
}
