import FlockCore
import FlockDaemon
import FlockHAProxy
import FlockPolicy
import Logging

/// `kind: haproxy` under `balancers:`: servers registered through HAProxy's runtime API. Pools on
/// it read their load from the same socket (`show stat`) unless their `metrics:` says otherwise.
struct HAProxyBalancerFactory: BalancerFactory {
    let kind = "haproxy"
    let settingKeys = ["socket", "timeout", "health_timeout"]
    let defaultMetricsKind: String? = "haproxy"

    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        var problems = HAProxyRuntimeSettings.validate(settings)
        if settings["socket"] == nil { problems.append(settings.diagnostic("socket", "is required")) }
        if case .failure(let list) = settings.duration("health_timeout") { problems += list.diagnostics }
        return problems
    }

    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Balancer {
        let health = (try? settings.duration("health_timeout").get()) ?? nil
        return HAProxyBalancer(
            client: try HAProxyRuntimeSettings.client(settings),
            healthTimeout: health ?? HAProxyBalancer.defaultHealthTimeout)
    }
}
