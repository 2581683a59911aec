import FlockCore
import Logging

/// Spreads a pool's clones over other hosts: wraps the pool's hypervisor (which runs the parent)
/// in one that places each clone on the local host or one of the placement's `hosts:`.
///
/// The same seam as the driver factories: `FlockDaemon` knows neither SSH nor QEMU, and the
/// `flockd` executable registers the factory it was built with (`DriverKinds.placement`).
public protocol PlacementFactory: Sendable {
    /// The hypervisor kinds whose snapshots can travel to other hosts; `placement:` on a pool of
    /// another kind is a located config error.
    var hypervisorKinds: [String] { get }
    /// The pool's hypervisor, placing; `hosts` are the placement's, `local` aside. `logDirectory`
    /// takes each host's ssh log.
    func place(
        _ hypervisor: any Hypervisor, pool: String, placement: DaemonConfig.PlacementConfig,
        hosts: [DaemonConfig.HostConfig], logDirectory: String, logger: Logger
    ) async throws -> any Hypervisor
}
