import FlockSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Several "hosts" on one machine, for benches, demos and tests of placement over SSH: the
/// parent's network (`ParentNetwork`) and namespace hosts (`NamespaceHost`), each with its own
/// sshd, VM bridge and private `/run` and `/dev/shm`. It is a rig, not a deployment: the hosts
/// share this machine's cores, RAM and file system (the same `flockctl` and guest image), and
/// building it needs root, iproute2, util-linux's `unshare` and OpenSSH's sshd, ssh and
/// ssh-keygen.
///
/// Everything it makes is named with one random tag and remembered before it is built, so
/// `destroy` removes all of it, also when building was interrupted half-way.
public final class HostRig: Sendable {
    public let tag: String
    private let made = Mutex<(parent: ParentNetwork?, hosts: [NamespaceHost])>((nil, []))

    public init(tag: String = String(UInt32.random(in: 0...0xfff), radix: 16)) { self.tag = tag }

    /// Where sshd is expected (it must be started by its absolute path).
    public static let sshd = "/usr/sbin/sshd"

    /// What is missing to build a rig here, as one message saying how to fix it; nil when nothing is.
    public static func missingPrerequisite() -> String? {
        guard geteuid() == 0 else {
            return
                "the namespace hosts need root (network namespaces, veths, bridges, TAP devices and sshd); run as root"
        }
        guard FileManager.default.isExecutableFile(atPath: sshd) else {
            return "\(sshd) is missing: the namespace hosts each run an sshd (hint: apt-get install openssh-server)"
        }
        for tool in ["ip", "nft", "unshare", "ssh", "ssh-keygen"] where findExecutable(tool) == nil {
            return "\(tool) is not installed (hint: bash Deploy/setup.sh)"
        }
        return nil
    }

    public var parentNetwork: ParentNetwork? { made.withLock { $0.parent } }
    public var hosts: [NamespaceHost] { made.withLock { $0.hosts } }

    /// Builds the parent's network.
    public func makeParentNetwork() async throws -> ParentNetwork {
        let network = ParentNetwork(tag: tag)
        made.withLock { $0.parent = network }
        try await network.create()
        return network
    }

    /// Builds host `index` (1...254, not 9), its files in `directory` (made 0700 if missing),
    /// which its sshd must see: not under /run or /dev/shm, which it mounts afresh.
    public func makeHost(index: Int, directory: String) async throws -> NamespaceHost {
        guard (1...254).contains(index), index != 9 else {
            throw RigError("host index \(index) must be 1...254 and not 9 (the parent's subnet)")
        }
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        guard !["/run/", "/dev/shm/"].contains(where: { resolved.hasPrefix($0) }) else {
            throw RigError("host directory \(directory) must not be under /run or /dev/shm: its sshd mounts its own")
        }
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let host = NamespaceHost(index: index, tag: tag, directory: directory)
        made.withLock { $0.hosts.append(host) }
        try await host.create()
        return host
    }

    /// Builds hosts at `indexes` with their sshd running, all accepting one fresh client key made
    /// in `directory` (0700; each host's files in `h<index>` under it).
    public func makeHosts(indexes: [Int], directory: String) async throws -> (keys: RigKeys, hosts: [NamespaceHost]) {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keys = try await RigKeys(directory: directory)
        var hosts: [NamespaceHost] = []
        for index in indexes {
            let host = try await makeHost(index: index, directory: "\(directory)/h\(index)")
            try await host.startSSHD(clientKey: try keys.publicKey)
            hosts.append(host)
        }
        return (keys, hosts)
    }

    /// Destroys the hosts (and every process in them), then the parent's network.
    public func destroy() async {
        for host in hosts { await host.destroy() }
        await parentNetwork?.destroy()
        made.withLock { $0 = (nil, []) }
    }

    /// SIGKILLs every process in network namespace `namespace`.
    static func killAll(in namespace: String) async {
        let pids = ((try? await RigTool.run("ip", ["netns", "pids", namespace])) ?? "").split(separator: "\n")
        for pid in pids { if let pid = pid_t(pid) { kill(pid, SIGKILL) } }
    }
}
