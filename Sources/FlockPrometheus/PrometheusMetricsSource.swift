import FlockCore
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Which series of a Prometheus page make one catalog metric.
public struct PrometheusQuery: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The summed value as is.
        case gauge
        /// The per-second increase of the summed counter between two reads (resets count from zero).
        case counterRate
    }

    public var metric: String
    /// Exact label matches; the text `{backend}` in a value is replaced by the backend asked for.
    public var labels: [String: String]
    public var kind: Kind
    /// Multiplies the value, e.g. 1000 to turn seconds into milliseconds.
    public var scale: Double

    public init(metric: String, labels: [String: String] = [:], kind: Kind = .gauge, scale: Double = 1) {
        self.metric = metric
        self.labels = labels
        self.kind = kind
        self.scale = scale
    }
}

/// Reads a backend's load from any Prometheus text endpoint (HAProxy's exporter, Envoy, Traefik, …).
///
/// Each catalog metric is a `PrometheusQuery`: a metric name and label matchers whose matching
/// series are summed. Per-server metrics divide by the `serving` query, and `servers_up` is that
/// query itself, so the same meaning holds as for the runtime API source. A page that cannot be
/// fetched or parsed, or a query that matches no series, yields error samples, never zeros.
public final class PrometheusMetricsSource: MetricsSource {
    public let url: URL
    public let queries: [MetricName: PrometheusQuery]
    /// Counts serving servers, for per-server metrics and `servers_up`.
    public let serving: PrometheusQuery?
    public let timeout: Duration
    private let counters = Mutex<[String: (value: Double, time: Date)]>([:])
    private let now: @Sendable () -> Date

    /// The bound on one page fetch unless the config says otherwise.
    public static let defaultTimeout: Duration = .seconds(5)

    public init(
        url: URL, queries: [MetricName: PrometheusQuery], serving: PrometheusQuery?,
        timeout: Duration = PrometheusMetricsSource.defaultTimeout,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.url = url
        self.queries = queries
        self.serving = serving
        self.timeout = timeout
        self.now = now
    }

    /// The queries for HAProxy 2.6's built-in exporter (`prometheus-exporter` service).
    public static func haproxy(url: URL, timeout: Duration = defaultTimeout) -> PrometheusMetricsSource {
        let proxy = ["proxy": "{backend}"]
        return PrometheusMetricsSource(
            url: url,
            queries: [
                .sessions: PrometheusQuery(metric: "haproxy_backend_current_sessions", labels: proxy),
                .queue: PrometheusQuery(metric: "haproxy_backend_current_queue", labels: proxy),
                .sessionRate: PrometheusQuery(
                    metric: "haproxy_backend_sessions_total", labels: proxy, kind: .counterRate),
                .responseTimeMs: PrometheusQuery(
                    metric: "haproxy_backend_response_time_average_seconds", labels: proxy, scale: 1000),
                .queueTimeMs: PrometheusQuery(
                    metric: "haproxy_backend_queue_time_average_seconds", labels: proxy, scale: 1000),
                .totalTimeMs: PrometheusQuery(
                    metric: "haproxy_backend_total_time_average_seconds", labels: proxy, scale: 1000),
                .errorRate5xx: PrometheusQuery(
                    metric: "haproxy_backend_http_responses_total", labels: ["proxy": "{backend}", "code": "5xx"],
                    kind: .counterRate),
            ],
            serving: PrometheusQuery(
                metric: "haproxy_server_status", labels: ["proxy": "{backend}", "state": "UP"]),
            timeout: timeout
        )
    }

    public func read(backend: String, metrics: Set<MetricName>) async -> [MetricSample] {
        let ordered = metrics.sorted { $0.rawValue < $1.rawValue }
        let page: [PrometheusSample]
        do {
            page = try PrometheusText.parse(try await fetch(), source: url.absoluteString)
        } catch {
            let time = now()
            let reason =
                error is PrometheusError
                ? "\(error)" : "GET \(url.absoluteString) failed: \(error.localizedDescription)"
            return ordered.map { MetricSample(metric: $0, time: time, reading: .error(reason)) }
        }
        return samples(from: page, backend: backend, metrics: metrics, time: now())
    }

    /// Computes samples from a parsed page; separate so tests can feed crafted pages.
    public func samples(
        from page: [PrometheusSample], backend: String, metrics: Set<MetricName>, time: Date
    ) -> [MetricSample] {
        let servingCount = serving.map { evaluate($0, page: page, backend: backend, time: time) }
        return metrics.sorted { $0.rawValue < $1.rawValue }.map { metric in
            let reading: MetricSample.Reading
            if metric == .serversUp {
                reading = servingCount ?? .error("no query counts serving servers for this source")
            } else if let base = metric.perServerBase {
                reading = perServer(base: base, serving: servingCount, page: page, backend: backend, time: time)
            } else if let query = queries[metric] {
                reading = evaluate(query, page: page, backend: backend, time: time)
            } else {
                reading = .error("this source has no query for \(metric.rawValue)")
            }
            return MetricSample(metric: metric, time: time, reading: reading)
        }
    }

    private func perServer(
        base: MetricName, serving: MetricSample.Reading?, page: [PrometheusSample], backend: String, time: Date
    ) -> MetricSample.Reading {
        guard let query = queries[base] else { return .error("this source has no query for \(base.rawValue)") }
        guard case .value(let count)? = serving else { return .error("the serving-server count is unavailable") }
        guard count > 0 else { return .error("no serving server to divide \(base.rawValue) by") }
        guard case .value(let total) = evaluate(query, page: page, backend: backend, time: time, remember: false) else {
            return .error("\(base.rawValue) is unavailable")
        }
        return .value(total / count)
    }

    private func evaluate(
        _ query: PrometheusQuery, page: [PrometheusSample], backend: String, time: Date, remember: Bool = true
    ) -> MetricSample.Reading {
        let wanted = query.labels.mapValues { $0.replacingOccurrences(of: "{backend}", with: backend) }
        let matching = page.filter { sample in
            sample.name == query.metric && wanted.allSatisfy { sample.labels[$0.key] == $0.value }
        }
        guard !matching.isEmpty else {
            return .error(
                "no series \(query.metric)\(wanted.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }) at \(url.absoluteString)"
            )
        }
        let total = matching.reduce(0) { $0 + $1.value }
        guard total.isFinite else { return .error("\(query.metric) is not a finite number") }
        switch query.kind {
        case .gauge:
            return .value(total * query.scale)
        case .counterRate:
            let key = "\(backend)|\(query.metric)|\(wanted.sorted { $0.key < $1.key })"
            let previous = counters.withLock { state in
                defer { if remember { state[key] = (total, time) } }
                return state[key]
            }
            guard let previous else { return .error("\(query.metric): the first read only sets the baseline") }
            let elapsed = time.timeIntervalSince(previous.time)
            guard elapsed > 0 else { return .error("\(query.metric): no time passed since the previous read") }
            let increase = total >= previous.value ? total - previous.value : total
            return .value(increase / elapsed * query.scale)
        }
    }

    private func fetch() async throws -> String {
        var request = URLRequest(url: url)
        let (seconds, attoseconds) = timeout.components
        request.timeoutInterval = Double(seconds) + Double(attoseconds) / 1e18
        let (data, response) = try await URLSession.shared.data(for: request)
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            throw PrometheusError.status(url.absoluteString, http.statusCode)
        }
        guard data.count <= 32 * 1024 * 1024 else {
            throw PrometheusError.tooLarge(url.absoluteString, limit: 32 * 1024 * 1024)
        }
        return String(decoding: data, as: UTF8.self)
    }
}
