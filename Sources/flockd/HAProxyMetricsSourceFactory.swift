import FlockCore
import FlockDaemon
import FlockHAProxy
import FlockPolicy
import Logging

/// `metrics: { kind: haproxy }`, the default on an HAProxy balancer: the backend's load from
/// `show stat` on the runtime API. Without its own `socket` it uses the pool's balancer's.
struct HAProxyMetricsSourceFactory: MetricsSourceFactory {
    let kind = "haproxy"
    let settingKeys = ["socket", "timeout"]

    func validate(_ settings: DriverSettings, balancer: DaemonConfig.DriverConfig) -> [PolicyDiagnostic] {
        if settings["socket"] == nil && balancer.kind != kind {
            return [
                settings.diagnostic(
                    "socket", "is required: balancer '\(balancer.name)' is not HAProxy, so it has no socket to share",
                    hint: "give HAProxy's runtime API socket here")
            ]
        }
        return HAProxyRuntimeSettings.validate(settings)
    }

    func open(
        _ settings: DriverSettings, balancer: DaemonConfig.DriverConfig, logger: Logger
    ) async throws -> any MetricsSource {
        var runtime = settings
        if settings["socket"] == nil {
            runtime.values = balancer.settings.values.merging(settings.values) { _, own in own }
        }
        return HAProxyMetricsSource(client: try HAProxyRuntimeSettings.client(runtime))
    }
}
