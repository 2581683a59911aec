import FlockHostRig
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The faults and looks inside a namespace host that only the tests need: a dropped session, a
/// cut link, the files on its private state root, a command run there.
extension NamespaceHost {
    /// The per-connection sshd processes (children of the listener): killing one drops a session.
    func sessionSSHDs() -> [pid_t] {
        guard let master = sshd?.pid else { return [] }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && pid_t(fields[1]) == master
        }
    }

    /// Files under the host's private state root, seen from inside its mount namespace.
    func filesInStateRoot() async throws -> [String] {
        guard let pid = sshd?.pid else { return [] }
        let out = try await RigTool.run("nsenter", ["-t", "\(pid)", "-m", "find", stateRoot, "-type", "f"])
        return out.split(separator: "\n").map(String.init)
    }

    /// Runs a command inside the host's mount namespace (its private /run and /dev/shm).
    func run(_ command: [String]) async throws -> String {
        guard let pid = sshd?.pid else { throw RigError("the host's sshd is not running") }
        return try await RigTool.run("nsenter", ["-t", "\(pid)", "-m"] + command)
    }

    func setLink(up: Bool) async throws {
        try await RigTool.run("ip", ["link", "set", rootSide, up ? "up" : "down"])
    }
}
