import FlockCore
import Metrics

/// The controller's Prometheus-style metrics, through swift-metrics so that `flockd` chooses
/// the backend (its `/metrics`) and tests need none.
enum ControllerMetrics {
    static func record(_ decision: Decision, pool: String, instances: [Instance]) {
        Counter(label: "flock_decisions_total", dimensions: [("pool", pool), ("action", decision.action.rawValue)])
            .increment()
        for state in InstanceState.allCases where state != .gone {
            Gauge(label: "flock_instances", dimensions: [("pool", pool), ("state", state.rawValue)])
                .record(instances.filter { $0.state == state }.count)
        }
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

    static func cloneToServing(_ seconds: Double, pool: String) {
        Timer(label: "flock_clone_to_serving_seconds", dimensions: [("pool", pool)], preferredDisplayUnit: .seconds)
            .recordSeconds(seconds)
    }

    static func error(kind: String, pool: String) {
        Counter(label: "flock_errors_total", dimensions: [("pool", pool), ("kind", kind)]).increment()
    }
}
