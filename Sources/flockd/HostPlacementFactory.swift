import FlockCore
import FlockDaemon
import FlockHosts
import FlockQEMU
import Logging

/// `placement:` on a `kind: qemu` pool: its QEMU driver and the placement's hosts (`hosts:`),
/// reached over SSH, as one `PlacingHypervisor`.
struct HostPlacementFactory: PlacementFactory {
    let hypervisorKinds = ["qemu"]

    func place(
        _ hypervisor: any Hypervisor, pool: String, placement: DaemonConfig.PlacementConfig,
        hosts: [DaemonConfig.HostConfig], logDirectory: String, logger: Logger
    ) async throws -> any Hypervisor {
        guard let driver = hypervisor as? QEMUDriver else {
            throw FlockError.conflict("placement needs the qemu driver, whose snapshots ship to other hosts")
        }
        let members = hosts.map { host in
            let target = SSHTarget(
                user: host.user, host: host.address, port: host.port, identityFile: host.identityFile,
                knownHostsFile: host.knownHostsFile, stateRoot: host.stateRoot, flockctl: host.flockctl)
            return PlacingHypervisor.Member(
                name: host.name, host: RemoteHost(target: target, logPath: "\(logDirectory)/host-\(host.name).log"),
                network: NetworkSpec(mode: .bridge, bridge: host.bridge, cidr: host.cidr, gateway: host.gateway),
                maxVMs: host.maxVMs, maxMemoryBytes: host.maxMemoryMiB.map { $0 << 20 },
                shipLog: "\(logDirectory)/host-\(host.name)-ship.log", lostAfter: host.lostAfter)
        }
        var logger = logger
        logger[metadataKey: "pool"] = "\(pool)"
        return PlacingHypervisor(
            pool: pool, local: driver, includesLocal: placement.hosts.contains(Placement.localHost), members: members,
            strategy: placement.strategy, logger: logger)
    }
}
