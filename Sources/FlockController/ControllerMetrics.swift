import FlockCore
import Metrics

/// The controller's Prometheus-style metrics, through swift-metrics so that `flockd` chooses
/// the backend (its `/metrics`) and tests need none.
enum ControllerMetrics {
    static func record(_ decision: Decision, policy: Policy, instances: [Instance]) {
        let pool = policy.pool
        Counter(label: "flock_decisions_total", dimensions: [("pool", pool), ("action", decision.action.rawValue)])
            .increment()
        for state in InstanceState.allCases where state != .gone {
            Gauge(label: "flock_instances", dimensions: [("pool", pool), ("state", state.rawValue)])
                .record(instances.filter { $0.state == state }.count)
        }
        // The engine's own count and bounds, so that alerts compare like with like instead of
        // rebuilding from instance states what counts as capacity, or reading the policy file.
        Gauge(label: "flock_capacity", dimensions: [("pool", pool)]).record(decision.from)
        Gauge(label: "flock_capacity_max", dimensions: [("pool", pool)]).record(policy.capacity.max)
        Gauge(label: "flock_standby_target", dimensions: [("pool", pool)]).record(policy.standby?.count ?? 0)
        if let forecast = decision.forecast {
            // NaN while the forecast abstains, so a graph shows a gap rather than an old value.
            Gauge(label: "flock_forecast", dimensions: [("pool", pool), ("metric", forecast.metric.rawValue)])
                .record(forecast.value ?? .nan)
        }
        for vote in decision.votes {
            Gauge(label: "flock_metric_missing", dimensions: [("pool", pool), ("metric", vote.metric.rawValue)])
                .record(vote.kind == .missing ? 1 : 0)
        }
    }

    /// Makes the series that only events would otherwise create, at zero, when a pool starts
    /// (recovers): `increase()` over a counter whose series appears at 1 misses that first
    /// failure, and a latency quantile over no series reads as no data rather than as no clones yet.
    static func declare(pool: String) {
        for kind in ["clone", "standby"] {
            _ = Counter(label: "flock_errors_total", dimensions: [("pool", pool), ("kind", kind)])
        }
        _ = Timer(
            label: "flock_clone_to_serving_seconds", dimensions: [("pool", pool)], preferredDisplayUnit: .seconds)
    }

    static func cloneToServing(_ seconds: Double, pool: String) {
        Timer(label: "flock_clone_to_serving_seconds", dimensions: [("pool", pool)], preferredDisplayUnit: .seconds)
            .recordSeconds(seconds)
    }

    static func error(kind: String, pool: String) {
        Counter(label: "flock_errors_total", dimensions: [("pool", pool), ("kind", kind)]).increment()
    }
}
