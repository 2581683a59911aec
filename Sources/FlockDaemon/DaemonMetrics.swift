import FlockCore
import Foundation
import Metrics
import Prometheus
import Synchronization

/// flockd's Prometheus registry, and the metrics the daemon loop adds to the controller's.
///
/// The controller reports through swift-metrics (`flock_decisions_total`, `flock_instances`,
/// `flock_metric_missing`, `flock_clone_to_serving_seconds`, `flock_errors_total`), and so does
/// host placement (`flock_host_up`, `flock_snapshot_transfer_bytes_total`,
/// `flock_snapshot_transfer_seconds`); the daemon
/// chooses Prometheus as the backend and serves the registry at `/metrics`. swift-metrics can be
/// bootstrapped once per process, so the registry is a lazily made singleton that every caller
/// (the daemon, and tests that start several daemons in one process) shares.
public enum DaemonMetrics {
    /// The registry `/metrics` renders; bootstraps swift-metrics on first use.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Clones serve in about 0.5–5 s (TCG) and well under a second on KVM; a minute is a failure.
        factory.durationHistogramBuckets["flock_clone_to_serving_seconds"] = [
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(5),
            .seconds(10), .seconds(20), .seconds(30), .seconds(60), .seconds(120),
        ]
        // A tick reads metrics and the store; it should take milliseconds, and seconds means trouble.
        factory.durationHistogramBuckets["flock_tick_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
        ]
        // A snapshot ships in about a second on a LAN and in minutes over a slow link.
        factory.durationHistogramBuckets["flock_snapshot_transfer_seconds"] = [
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// The Prometheus text exposition of every metric recorded so far.
    public static func render() -> String {
        registry.emitToString()
    }

    /// How long one tick took (read metrics, decide, record, start actions).
    static func tick(_ duration: Duration, pool: String) {
        Timer(label: "flock_tick_seconds", dimensions: [("pool", pool)], preferredDisplayUnit: .seconds)
            .recordNanoseconds(Int64(duration.seconds * 1e9))
    }

    /// Seconds since each metric of the pool last had a usable value (since the pool started when
    /// it never had one): the staleness that makes the engine hold, visible before it does.
    static func staleness(_ ages: [MetricName: Double], pool: String) {
        for (metric, age) in ages {
            Gauge(label: "flock_metric_staleness_seconds", dimensions: [("pool", pool), ("metric", metric.rawValue)])
                .record(age)
        }
    }

    /// 1 while the pool is paused, so an alert can catch a pool left paused.
    static func paused(_ paused: Bool, pool: String) {
        Gauge(label: "flock_pool_paused", dimensions: [("pool", pool)]).record(paused ? 1 : 0)
    }
}

/// Wraps a pool's metrics source to remember when each metric last had a usable value.
///
/// The controller only sees the samples; the daemon wants to export how stale they are, and
/// wrapping the source gets that without changing the controller.
public final class StalenessTrackingSource: MetricsSource {
    let base: any MetricsSource
    private let lastGood: Mutex<[MetricName: Date]> = Mutex([:])

    public init(_ base: any MetricsSource) {
        self.base = base
    }

    public func read(backend: String, metrics: Set<MetricName>) async -> [MetricSample] {
        let samples = await base.read(backend: backend, metrics: metrics)
        lastGood.withLock { last in
            for sample in samples where sample.value != nil {
                last[sample.metric] = max(last[sample.metric] ?? sample.time, sample.time)
            }
        }
        return samples
    }

    /// Age in seconds of the newest usable value of each metric, at `now`; `since` stands in
    /// for metrics that never had one.
    public func ages(of metrics: Set<MetricName>, now: Date, since start: Date) -> [MetricName: Double] {
        let last = lastGood.withLock { $0 }
        var ages: [MetricName: Double] = [:]
        for metric in metrics { ages[metric] = max(0, now.timeIntervalSince(last[metric] ?? start)) }
        return ages
    }
}
