import FlockCore
import FlockPolicy
import Logging

/// Makes the balancer driver for one `kind` of the config's `balancers:` section (HAProxy,
/// and any other balancer a build of flockd registers).
///
/// The same seam as `HypervisorFactory`: a new balancer kind is a driver target plus one factory
/// registered in the `flockd` executable, with no edit in `FlockDaemon`.
public protocol BalancerFactory: Sendable {
    /// The `kind:` value this factory answers to, e.g. `haproxy`.
    var kind: String { get }
    /// The settings this kind accepts besides `kind`; any other key is a located error.
    var settingKeys: [String] { get }
    /// The settings that are nested mappings (for example a Prometheus source's `queries:`);
    /// none by default. Any other setting must be a single value.
    var mappingKeys: [String] { get }
    /// The metrics source kind a pool on this balancer uses when its config names none (the
    /// balancer's own statistics), or nil when every pool must name one.
    var defaultMetricsKind: String? { get }
    /// Checks the settings without side effects and returns every problem, located.
    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic]
    /// Opens the driver at start-up, after `validate` found nothing. It need not reach the
    /// balancer yet: each pool's `Balancer.check(backend:)` does, with a message naming the pool.
    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Balancer
}

extension BalancerFactory {
    public var mappingKeys: [String] { [] }
}
