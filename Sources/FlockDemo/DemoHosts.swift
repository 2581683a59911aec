import FlockHostRig
import Foundation
import Synchronization

/// The namespace hosts of `flockctl demo --hosts N` (and of the end-to-end hosts test): each a
/// network namespace with its own sshd and VM bridge (`NamespaceHost`), which flockd reaches over
/// SSH as it would other machines. Their files (keys, known_hosts, sshd's config) live in a
/// private directory under the system's temporary directory, not the work directory: each host
/// mounts its own /dev/shm, so a path there would not be the same file inside it.
public final class DemoHosts: Sendable {
    public let rig = HostRig()
    let directory: String
    private let keys = Mutex<RigKeys?>(nil)

    public init() {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "flock-demo-hosts-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// The hosts built so far.
    public var hosts: [NamespaceHost] { rig.hosts }

    /// Builds hosts `h<index>` with sshd running, and says how flockd reaches each.
    public func create(indexes: [Int], flockctl: String) async throws -> [DemoFlockd.Settings.Host] {
        let (keys, hosts) = try await rig.makeHosts(indexes: indexes, directory: directory)
        self.keys.withLock { $0 = keys }
        return hosts.map { host in
            DemoFlockd.Settings.Host(
                name: "h\(host.index)", ssh: "root@\(host.address)", identityFile: keys.identity,
                knownHosts: host.knownHosts, stateRoot: host.stateRoot, flockctl: flockctl, bridge: host.bridge,
                cidr: host.vmSubnet, gateway: host.vmGateway)
        }
    }

    /// Starts a crashed host's sshd again (`NamespaceHost.crash`), with the same keys: it comes
    /// back empty, as a rebooted machine.
    public func restart(_ host: NamespaceHost) async throws {
        guard let keys = keys.withLock({ $0 }) else { throw DemoError("no hosts were created") }
        try await host.startSSHD(clientKey: try keys.publicKey)
    }

    /// The hosts with everything in them (sshd, sessions, VMs), then their files.
    public func destroy() async {
        await rig.destroy()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
