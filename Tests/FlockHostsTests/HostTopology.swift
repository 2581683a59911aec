import FlockSystem
import FlockTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `ip` (or another tool) and fails the test with what it printed.
func tool(_ executable: String, _ arguments: [String]) async throws -> String {
    let outcome = try await ChildProcess.run(executable, arguments, timeout: .seconds(30))
    guard outcome.status == 0 else {
        throw TopologyError(
            "\(executable) \(arguments.joined(separator: " ")) failed (\(outcome.status)): \(outcome.standardError)")
    }
    return outcome.standardOutput
}

struct TopologyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The SSH credentials the test makes: one ed25519 client key, and per host a host key.
struct TestKeys {
    let directory: String
    var identity: String { "\(directory)/id_ed25519" }

    init(directory: String) async throws {
        self.directory = directory
        _ = try await tool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "flock-test", "-f", identity])
    }

    var publicKey: String {
        get throws {
            try String(contentsOfFile: identity + ".pub", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
    }
}

/// A "host": a network namespace joined to the root namespace by a veth pair (10.231.N.1 here,
/// 10.231.N.2 there), with a bridge for its VMs on 10.232.N.0/24 (the bridge is the VMs'
/// gateway, 10.232.N.1) and a route to it from the root namespace. Its sshd runs in a private
/// mount namespace with its own tmpfs `/run` and `/dev/shm`, where its state root lives: nothing
/// but SSH can carry state to it.
final class NamespaceHost: @unchecked Sendable {
    let index: Int
    let namespace: String
    let rootSide: String
    let bridge = "flkbr0"
    let directory: String
    var sshd: ChildProcess?
    var address: String { "10.231.\(index).2" }
    var vmSubnet: String { "10.232.\(index).0/24" }
    var vmGateway: String { "10.232.\(index).1" }
    var knownHosts: String { "\(directory)/known_hosts" }
    var stateRoot: String { "/dev/shm/flock-host" }

    init(index: Int, tag: String, directory: String) async throws {
        self.index = index
        self.directory = directory
        namespace = "flkhost\(tag)\(index)"
        rootSide = "fhr\(tag)\(index)"
        let ns = ["-n", namespace]
        let steps: [[String]] = [
            ["netns", "add", namespace],
            ["link", "add", rootSide, "type", "veth", "peer", "name", "up0", "netns", namespace],
            ["addr", "add", "10.231.\(index).1/24", "dev", rootSide],
            ["link", "set", rootSide, "up"],
            ns + ["addr", "add", "\(address)/24", "dev", "up0"],
            ns + ["link", "set", "up0", "up"],
            ns + ["link", "set", "lo", "up"],
            ns + ["link", "add", bridge, "type", "bridge"],
            ns + ["addr", "add", "\(vmGateway)/24", "dev", bridge],
            ns + ["link", "set", bridge, "up"],
            ["route", "add", vmSubnet, "via", address],
        ]
        do {
            for step in steps { _ = try await tool("ip", step) }
            _ = try await tool("ip", ["netns", "exec", namespace, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        } catch {
            await destroy()
            throw error
        }
    }

    /// Starts sshd on the host's address. `forcedCommand` pins the remote command in
    /// authorized_keys (`command=`), as an operator would; `restrict` is always on.
    func startSSHD(clientKey: String, forcedCommand: String? = nil) async throws {
        let hostKey = "\(directory)/host_key"
        if !FileManager.default.fileExists(atPath: hostKey) {
            _ = try await tool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
            let line = try String(contentsOfFile: hostKey + ".pub", encoding: .utf8).split(separator: " ").prefix(2)
                .joined(separator: " ")
            try "\(address) \(line)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
        }
        let options = forcedCommand.map { "restrict,command=\"\($0)\"" } ?? "restrict"
        try "\(options) \(clientKey)\n".write(toFile: "\(directory)/authorized_keys", atomically: true, encoding: .utf8)
        let config = """
            ListenAddress \(address)
            Port 22
            HostKey \(hostKey)
            AuthorizedKeysFile \(directory)/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            PidFile none
            ClientAliveInterval 1
            ClientAliveCountMax 3
            LogLevel VERBOSE

            """
        try config.write(toFile: "\(directory)/sshd_config", atomically: true, encoding: .utf8)
        // A constant script; its arguments travel as "$@". The mounts are the host's own /run and
        // /dev/shm, private to this mount namespace.
        let script =
            "mount -t tmpfs -o mode=755 tmpfs /run && mkdir -p /run/sshd && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec \"$@\""
        sshd = try await ChildProcess.start(
            "ip",
            [
                "netns", "exec", namespace, "unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh",
                "/usr/sbin/sshd", "-D", "-e", "-f", "\(directory)/sshd_config",
            ],
            stdout: "\(directory)/sshd.log", name: "sshd")
        let up = await eventually(timeout: .seconds(15), every: .milliseconds(100)) {
            ((try? await tool("ip", ["netns", "exec", self.namespace, "ss", "-ltnH"])) ?? "").contains(
                "\(self.address):22")
        }
        guard up else { throw TopologyError("sshd in \(namespace) did not listen: \(sshdLog)") }
    }

    var sshdLog: String { (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? "" }

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
        let out = try await tool("nsenter", ["-t", "\(pid)", "-m", "find", stateRoot, "-type", "f"])
        return out.split(separator: "\n").map(String.init)
    }

    /// Runs a command inside the host's mount namespace (its private /run and /dev/shm).
    func run(_ command: [String]) async throws -> String {
        guard let pid = sshd?.pid else { throw TopologyError("the host's sshd is not running") }
        return try await tool("nsenter", ["-t", "\(pid)", "-m"] + command)
    }

    func setLink(up: Bool) async throws {
        _ = try await tool("ip", ["link", "set", rootSide, up ? "up" : "down"])
    }

    /// Kills everything in the namespace (sshd, sessions, QEMUs), then deletes it; certain.
    func destroy() async {
        let pids = ((try? await tool("ip", ["netns", "pids", namespace])) ?? "").split(separator: "\n")
        for pid in pids { if let pid = pid_t(pid) { kill(pid, SIGKILL) } }
        sshd?.kill()
        await sshd?.waitForExit(timeout: .seconds(5))
        _ = try? await tool("ip", ["link", "delete", rootSide])
        _ = try? await tool("ip", ["netns", "delete", namespace])
    }
}

/// The parent's network on the root "host": a namespace holding a bridge, joined by a veth whose
/// root end is the VMs' gateway, as the QEMU driver's bridge mode uses it (`networkNamespace`).
final class ParentNetwork: @unchecked Sendable {
    let namespace: String
    let rootSide: String
    let bridge = "flkbr0"
    let subnet = "10.232.9.0/24"
    let gateway = "10.232.9.1"

    init(tag: String) async throws {
        namespace = "flkpar\(tag)"
        rootSide = "fhp\(tag)"
        let steps: [[String]] = [
            ["netns", "add", namespace],
            ["-n", namespace, "link", "add", bridge, "type", "bridge"],
            ["link", "add", rootSide, "type", "veth", "peer", "name", "flkn0", "netns", namespace],
            ["-n", namespace, "link", "set", "flkn0", "master", bridge],
            ["-n", namespace, "link", "set", "flkn0", "up"],
            ["-n", namespace, "link", "set", bridge, "up"],
            ["-n", namespace, "link", "set", "lo", "up"],
            ["addr", "add", "\(gateway)/24", "dev", rootSide],
            ["link", "set", rootSide, "up"],
        ]
        do {
            for step in steps { _ = try await tool("ip", step) }
        } catch {
            await destroy()
            throw error
        }
    }

    func destroy() async {
        let pids = ((try? await tool("ip", ["netns", "pids", namespace])) ?? "").split(separator: "\n")
        for pid in pids { if let pid = pid_t(pid) { kill(pid, SIGKILL) } }
        _ = try? await tool("ip", ["link", "delete", rootSide])
        _ = try? await tool("ip", ["netns", "delete", namespace])
    }
}
