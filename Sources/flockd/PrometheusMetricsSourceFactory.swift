import FlockCore
import FlockDaemon
import FlockPolicy
import FlockPrometheus
import Foundation
import Logging

/// `metrics: { kind: prometheus, url: …, queries: … }`: a pool's load from any Prometheus text
/// endpoint (Envoy, Traefik, HAProxy's exporter, an application's own).
///
/// Each catalog metric the pool's checks use is a query: a metric name and label matchers whose
/// series are summed (`{backend}` in a label value stands for the pool's backend), read as a
/// gauge or as the per-second rate of a counter, times a scale. `serving` counts the servers
/// taking traffic, for the per-server metrics and `servers_up`. `preset: haproxy` starts from the
/// queries for HAProxy's built-in exporter; `queries` then add to or replace them.
struct PrometheusMetricsSourceFactory: MetricsSourceFactory {
    let kind = "prometheus"
    let settingKeys = ["url", "timeout", "preset"]
    let mappingKeys = ["queries", "serving"]

    /// The metrics a query can be given for; the per-server ones and `servers_up` follow from
    /// these and `serving`.
    static let queryable = MetricName.allCases.filter { $0.perServerBase == nil && $0 != .serversUp }
    static let presets = ["haproxy"]

    func validate(_ settings: DriverSettings, balancer: DaemonConfig.DriverConfig) -> [PolicyDiagnostic] {
        if case .failure(let list) = Self.source(settings) { return list.diagnostics }
        return []
    }

    func open(
        _ settings: DriverSettings, balancer: DaemonConfig.DriverConfig, logger: Logger
    ) async throws -> any MetricsSource {
        try Self.source(settings).get()
    }

    /// The source the settings describe, or every problem with them, located.
    static func source(_ settings: DriverSettings) -> Result<PrometheusMetricsSource, DiagnosticList> {
        var problems: [PolicyDiagnostic] = []
        var url: URL?
        if let text = settings["url"] {
            url = URL(string: text)
            if url?.host == nil || !["http", "https"].contains(url?.scheme ?? "") {
                problems.append(
                    settings.diagnostic(
                        "url", "must be an http:// or https:// URL; got '\(text)'",
                        hint: "the exporter's page, e.g. http://127.0.0.1:9901/stats/prometheus"))
            }
        } else {
            problems.append(settings.diagnostic("url", "is required", hint: "the exporter's page"))
        }
        var timeout = PrometheusMetricsSource.defaultTimeout
        switch settings.duration("timeout") {
        case .success(let value): timeout = value ?? timeout
        case .failure(let list): problems += list.diagnostics
        }
        var queries: [MetricName: PrometheusQuery] = [:]
        var serving: PrometheusQuery?
        switch settings["preset"] {
        case nil: break
        case "haproxy"?:
            if let url {
                let haproxy = PrometheusMetricsSource.haproxy(url: url)
                queries = haproxy.queries
                serving = haproxy.serving
            }
        case let preset?:
            problems.append(
                settings.diagnostic(
                    "preset", "unknown preset '\(preset)'",
                    hint: "presets: \(presets.joined(separator: ", ")); or write queries: yourself"))
        }
        if let section = settings.section("queries") {
            problems += section.unknownKeys(allowed: queryable.map(\.rawValue))
            for (key, setting) in section.values {
                guard let metric = MetricName(rawValue: key), queryable.contains(metric) else { continue }
                switch query(setting, at: "\(section.path).\(key)") {
                case .success(let value): queries[metric] = value
                case .failure(let list): problems += list.diagnostics
                }
            }
        } else if settings["preset"] == nil {
            problems.append(
                settings.diagnostic(
                    "queries", "is required without a preset",
                    hint: "map catalog metrics to series, e.g. sessions: { metric: envoy_cluster_upstream_rq_active }"))
        }
        if let setting = settings.values["serving"] {
            switch query(setting, at: "\(settings.path).serving") {
            case .success(let value): serving = value
            case .failure(let list): problems += list.diagnostics
            }
        }
        guard problems.isEmpty, let url else { return .failure(DiagnosticList(problems)) }
        return .success(PrometheusMetricsSource(url: url, queries: queries, serving: serving, timeout: timeout))
    }

    /// One query: `{ metric: NAME, labels: { k: v }, kind: gauge | counter_rate, scale: N }`.
    static func query(_ setting: DriverSettings.Setting, at path: String) -> Result<PrometheusQuery, DiagnosticList> {
        guard case .mapping(let fields) = setting.value else {
            return .failure(
                DiagnosticList([
                    setting.location.diagnostic(
                        "\(path) must be a mapping", hint: "e.g. { metric: envoy_cluster_upstream_rq_active }")
                ]))
        }
        var problems = fields.unknownKeys(allowed: ["metric", "labels", "kind", "scale"])
        let metric = fields["metric"]
        if metric?.isEmpty ?? true {
            problems.append(fields.diagnostic("metric", "is required", hint: "the series' metric name"))
        }
        var labels: [String: String] = [:]
        if let section = fields.section("labels") {
            for (key, value) in section.values {
                guard let text = value.text else {
                    problems.append(section.diagnostic(key, "must be a single value"))
                    continue
                }
                labels[key] = text
            }
        } else if fields.values["labels"] != nil {
            problems.append(fields.diagnostic("labels", "must be a mapping of label names to values"))
        }
        var kind = PrometheusQuery.Kind.gauge
        switch fields["kind"] {
        case nil, "gauge"?: break
        case "counter_rate": kind = .counterRate
        case let other?:
            problems.append(
                fields.diagnostic(
                    "kind", "must be gauge or counter_rate; got '\(other)'",
                    hint: "counter_rate turns a *_total counter into a per-second rate"))
        }
        var scale = 1.0
        if let text = fields["scale"] {
            if let value = Double(text), value.isFinite, value > 0 {
                scale = value
            } else {
                problems.append(
                    fields.diagnostic(
                        "scale", "must be a positive number; got '\(text)'", hint: "e.g. 1000 for seconds → ms"))
            }
        }
        guard problems.isEmpty, let metric else { return .failure(DiagnosticList(problems)) }
        return .success(PrometheusQuery(metric: metric, labels: labels, kind: kind, scale: scale))
    }
}
