import FlockCore
import FlockPolicy
import Logging

/// Makes the hypervisor driver for one `kind` of the config's `hypervisors:` section.
///
/// This is the seam between the daemon and its hypervisors: `FlockDaemon` knows no driver, the
/// `flockd` executable registers one factory per kind it was built with (`DriverKinds`), and
/// tests register in-memory ones. A kind no factory provides is a located config error.
public protocol HypervisorFactory: Sendable {
    /// The `kind:` value this factory answers to, e.g. `qemu`.
    var kind: String { get }
    /// The settings this kind accepts besides `kind`; any other key is a located error.
    var settingKeys: [String] { get }
    /// The settings that are nested mappings (for example a Prometheus source's `queries:`);
    /// none by default. Any other setting must be a single value.
    var mappingKeys: [String] { get }
    /// Checks the settings without side effects (`flockd --check-config` calls it too) and
    /// returns every problem, located with `settings.diagnostic(…)`.
    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic]
    /// Opens the driver at start-up, after `validate` found nothing. May take over VMs that a
    /// previous daemon left running.
    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Hypervisor
}

extension HypervisorFactory {
    public var mappingKeys: [String] { [] }
}
