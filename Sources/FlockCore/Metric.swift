import Foundation

/// The catalog of metrics a policy may name.
///
/// A closed catalog lets validation reject typos and lets every source (HAProxy, Prometheus)
/// promise the same meaning for the same name. Per-server metrics divide a backend total by the
/// servers that are UP and taking traffic, because that is what one more clone changes.
public enum MetricName: String, CaseIterable, Sendable, Codable, Hashable {
    /// Current sessions on the backend (HAProxy `scur`).
    case sessions
    /// `sessions` divided by the serving servers.
    case sessionsPerServer = "sessions_per_server"
    /// Requests waiting for a server (HAProxy `qcur`).
    case queue
    /// New sessions per second on the backend.
    case sessionRate = "session_rate"
    /// `session_rate` divided by the serving servers.
    case sessionRatePerServer = "session_rate_per_server"
    /// Average response time in milliseconds (HAProxy `rtime`).
    case responseTimeMs = "response_time_ms"
    /// Average time spent queued in milliseconds (HAProxy `qtime`).
    case queueTimeMs = "queue_time_ms"
    /// Average total session time in milliseconds (HAProxy `ttime`).
    case totalTimeMs = "total_time_ms"
    /// 5xx responses per second.
    case errorRate5xx = "error_rate_5xx"
    /// Servers that are UP.
    case serversUp = "servers_up"

    /// For a per-server metric, the backend total it is derived from.
    public var perServerBase: MetricName? {
        switch self {
        case .sessionsPerServer: .sessions
        case .sessionRatePerServer: .sessionRate
        default: nil
        }
    }

    /// What the metric measures, for help texts and the README.
    public var summary: String {
        switch self {
        case .sessions: "current sessions on the backend"
        case .sessionsPerServer: "current sessions per serving server"
        case .queue: "requests queued for a server"
        case .sessionRate: "new sessions per second"
        case .sessionRatePerServer: "new sessions per second per serving server"
        case .responseTimeMs: "average response time, ms"
        case .queueTimeMs: "average queue time, ms"
        case .totalTimeMs: "average total session time, ms"
        case .errorRate5xx: "5xx responses per second"
        case .serversUp: "servers that are UP"
        }
    }
}

/// One reading of one metric for one pool, as a source produced it.
///
/// A failed read is kept as a sample too, so that the engine can tell "the source said nothing
/// usable" apart from "the value was zero"; an error sample is never read as a number.
public struct MetricSample: Sendable, Codable, Hashable {
    /// A number, or the reason there is none.
    public enum Reading: Sendable, Codable, Hashable {
        case value(Double)
        case error(String)
    }

    public var metric: MetricName
    /// The source's own timestamp where it has one, otherwise the time of the read.
    public var time: Date
    public var reading: Reading

    public init(metric: MetricName, time: Date, reading: Reading) {
        self.metric = metric
        self.time = time
        self.reading = reading
    }

    public init(metric: MetricName, time: Date, value: Double) {
        self.init(metric: metric, time: time, reading: .value(value))
    }

    /// The number, or `nil` for an error sample. NaN and infinities count as no number: a broken
    /// source must not be able to steer the engine with them.
    public var value: Double? {
        if case .value(let v) = reading, v.isFinite { return v }
        return nil
    }
}
