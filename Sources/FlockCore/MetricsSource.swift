/// Reads a pool's load from wherever the balancer publishes it (HAProxy's runtime API, a
/// Prometheus endpoint, …).
public protocol MetricsSource: Sendable {
    /// Reads `metrics` for `backend`.
    ///
    /// Never throws: a source that is unreachable, slow or unparsable returns error samples
    /// (`MetricSample.Reading.error`) for the metrics it could not read, so the engine holds
    /// instead of mistaking silence for zero.
    func read(backend: String, metrics: Set<MetricName>) async -> [MetricSample]
}
