import FlockCore
import FlockHosts
import FlockQEMU
import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A "host" on this machine, for benches, demos and tests of placement over SSH (not for
/// production: one machine's cores and RAM stay shared): a network namespace joined to the root
/// namespace by a veth pair (10.231.N.1 here, 10.231.N.2 there), with a bridge for its VMs on
/// 10.232.N.0/24 (the bridge is the VMs' gateway, 10.232.N.1) and a route to it from the root
/// namespace. Its sshd runs in a private mount namespace with its own tmpfs `/run` and
/// `/dev/shm`, where its state root lives: nothing but SSH can carry state to it.
///
/// N is 1...254 but not 9 (`ParentNetwork`'s subnet); needs root, `ip`, `unshare` and sshd.
public final class NamespaceHost: @unchecked Sendable {
    public let index: Int
    public let namespace: String
    /// The root namespace's end of the veth: every byte between this host and the others
    /// crosses it (`/sys/class/net/<rootSide>/statistics`).
    public let rootSide: String
    public let bridge = "flkbr0"
    public let directory: String
    /// The listening sshd, once started; its children are the sessions.
    public private(set) var sshd: ChildProcess?
    public var address: String { "10.231.\(index).2" }
    public var vmSubnet: String { "10.232.\(index).0/24" }
    public var vmGateway: String { "10.232.\(index).1" }
    public var knownHosts: String { "\(directory)/known_hosts" }
    public var stateRoot: String { "/dev/shm/flock-host" }
    /// Its VMs' network, as a `PlacingHypervisor.Member` gives it.
    public var network: NetworkSpec {
        NetworkSpec(mode: .bridge, bridge: bridge, cidr: vmSubnet, gateway: vmGateway)
    }

    /// Names it; `create` builds it. `tag` keeps the names of concurrent rigs apart.
    public init(index: Int, tag: String, directory: String) {
        self.index = index
        self.directory = directory
        namespace = "flkhost\(tag)\(index)"
        rootSide = "fhr\(tag)\(index)"
    }

    /// Builds the namespace, veth, bridge and route; on a failure, removes what it built.
    public func create() async throws {
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
            for step in steps { try await RigTool.run("ip", step) }
            try await RigTool.run("ip", ["netns", "exec", namespace, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            try await VMFirewall.install(in: namespace, table: "flock_host", uplink: "up0", bridge: bridge)
        } catch {
            await destroy()
            throw error
        }
    }

    /// Starts sshd on the host's address. `forcedCommand` pins the remote command in
    /// authorized_keys (`command=`), as an operator would; `restrict` is always on.
    public func startSSHD(clientKey: String, forcedCommand: String? = nil) async throws {
        let hostKey = "\(directory)/host_key"
        if !FileManager.default.fileExists(atPath: hostKey) {
            try await RigTool.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
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
                HostRig.sshd, "-D", "-e", "-f", "\(directory)/sshd_config",
            ],
            stdout: "\(directory)/sshd.log", name: "sshd")
        let deadline = ContinuousClock.now + .seconds(15)
        while !(await listening()) {
            guard ContinuousClock.now < deadline else {
                throw RigError("sshd in \(namespace) did not listen: \(sshdLog)")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func listening() async -> Bool {
        ((try? await RigTool.run("ip", ["netns", "exec", namespace, "ss", "-ltnH"])) ?? "").contains("\(address):22")
    }

    public var sshdLog: String { (try? String(contentsOfFile: "\(directory)/sshd.log", encoding: .utf8)) ?? "" }

    /// How to reach it as root with `keys`, its `flockctl` being `flockctl` (the same binary:
    /// the namespaces share this machine's file system).
    public func target(keys: RigKeys, flockctl: String, stateRoot: String? = nil) -> SSHTarget {
        SSHTarget(
            user: "root", host: address, identityFile: keys.identity, knownHostsFile: knownHosts,
            stateRoot: stateRoot ?? self.stateRoot, flockctl: flockctl, serverAliveInterval: 1, connectTimeout: 5)
    }

    /// It as a placement member named `h<N>`, its session and shipment logs in its directory.
    public func member(keys: RigKeys, flockctl: String, lostAfter: Duration = .seconds(15)) -> PlacingHypervisor.Member
    {
        PlacingHypervisor.Member(
            name: "h\(index)",
            host: RemoteHost(target: target(keys: keys, flockctl: flockctl), logPath: "\(directory)/session.log"),
            network: network, shipLog: "\(directory)/ship.log", lostAfter: lostAfter)
    }

    /// Bytes received plus bytes sent on the root side of its veth: everything between this
    /// host and the rest of the machine (SSH sessions, shipments, HTTP to its VMs, ARP).
    public func vethBytes() -> Int {
        ["rx_bytes", "tx_bytes"].map { counter in
            let text =
                (try? String(contentsOfFile: "/sys/class/net/\(rootSide)/statistics/\(counter)", encoding: .utf8))
            return Int(text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }.reduce(0, +)
    }

    /// The host crashes: everything in its namespace is SIGKILLed (sshd, sessions, QEMUs; their
    /// private mounts and the snapshots on them go with the last of them), and the namespace, its
    /// links and route stay, so `startSSHD` brings it back, empty, as a rebooted machine.
    public func crash() async {
        await HostRig.killAll(in: namespace)
        sshd?.kill()
        await sshd?.waitForExit(timeout: .seconds(5))
    }

    /// Kills everything in the namespace (sshd, sessions, QEMUs: their private mounts and the
    /// snapshots on them go with the last of them), then deletes it; certain.
    public func destroy() async {
        await crash()
        _ = try? await RigTool.run("ip", ["link", "delete", rootSide])
        _ = try? await RigTool.run("ip", ["netns", "delete", namespace])
    }
}
