import FlockHostRig
import Foundation

/// The namespace hosts of `flockctl demo --hosts N`: each a network namespace with its own sshd
/// and VM bridge (`NamespaceHost`), which flockd reaches over SSH as it would other machines.
/// Their files (keys, known_hosts, sshd's config) live in a private directory under the system's
/// temporary directory, not the work directory: each host mounts its own /dev/shm, so a path
/// there would not be the same file inside it.
public final class DemoHosts: Sendable {
    let rig = HostRig()
    let directory: String

    public init() {
        directory = "\(NSTemporaryDirectory())/flock-demo-hosts-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Builds hosts h1…hN with sshd running, and says how flockd reaches each.
    public func create(count: Int, flockctl: String) async throws -> [DemoFlockd.Settings.Host] {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keys = try await RigKeys(directory: directory)
        var hosts: [DemoFlockd.Settings.Host] = []
        for index in 1...count {
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

    /// The hosts with everything in them (sshd, sessions, VMs), then their files.
    public func destroy() async {
        await rig.destroy()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
