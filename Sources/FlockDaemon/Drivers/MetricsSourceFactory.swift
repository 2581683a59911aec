import FlockCore
import FlockPolicy
import Logging

/// Makes a pool's metrics source for one `kind` of its `metrics:` section (`pools.NAME.metrics`):
/// the balancer's own statistics, or any Prometheus text endpoint.
///
/// Metrics are chosen per pool and apart from the balancer, because the load can be read
/// elsewhere than where servers are registered (an Envoy or Traefik exporter in front of the
/// same backends, say). A source may still build on the pool's balancer settings, as the HAProxy
/// one reads the same runtime API socket unless told otherwise.
public protocol MetricsSourceFactory: Sendable {
    /// The `kind:` value this factory answers to, e.g. `prometheus`.
    var kind: String { get }
    /// The settings this kind accepts besides `kind`; any other key is a located error.
    var settingKeys: [String] { get }
    /// The settings that are nested mappings (for example a Prometheus source's `queries:`);
    /// none by default. Any other setting must be a single value.
    var mappingKeys: [String] { get }
    /// Checks the settings without side effects and returns every problem, located. `balancer`
    /// is the pool's balancer section, for sources that build on it.
    func validate(_ settings: DriverSettings, balancer: DaemonConfig.DriverConfig) -> [PolicyDiagnostic]
    /// Opens the source at start-up, after `validate` found nothing.
    func open(
        _ settings: DriverSettings, balancer: DaemonConfig.DriverConfig, logger: Logger
    ) async throws -> any MetricsSource
}

extension MetricsSourceFactory {
    public var mappingKeys: [String] { [] }
}
