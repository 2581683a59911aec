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
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keys = try await RigKeys(directory: directory)
        self.keys.withLock { $0 = keys }
        var hosts: [DemoFlockd.Settings.Host] = []
        for index in indexes {
            let host = try await rig.makeHost(index: index, directory: "\(directory)/h\(index)")
            try await host.startSSHD(clientKey: try keys.publicKey)
            hosts.append(
                DemoFlockd.Settings.Host(
                    name: "h\(index)", ssh: "root@\(host.address)", identityFile: keys.identity,
                    knownHosts: host.knownHosts, stateRoot: host.stateRoot, flockctl: flockctl, bridge: host.bridge,
                    cidr: host.vmSubnet, gateway: host.vmGateway))
        }
        return hosts
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
