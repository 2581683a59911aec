import FlockCore
import Foundation
import Synchronization

/// Reads a backend's load from HAProxy's `show stat` over the runtime API.
///
/// One `show stat` per read yields every metric in the catalog. Backend totals come from the
/// `BACKEND` row; per-server metrics divide them by the servers that take new traffic (UP, not
/// draining, not in maintenance), because that is what one more clone changes. A failed read, a
/// missing backend or an empty column yields an error sample, never a zero.
///
/// `error_rate_5xx` is a rate computed from HAProxy's `hrsp_5xx` counter between two reads of
/// the same source, so the first read after start has no value yet. A counter that went down
/// means HAProxy restarted: as Prometheus' `rate()` does, the new value counts as the increase.
public final class HAProxyMetricsSource: MetricsSource {
    private let client: RuntimeClient
    private let now: @Sendable () -> Date
    /// The last `hrsp_5xx` reading per backend, for rates.
    private let counters = Mutex<[String: (value: Double, time: Date)]>([:])

    public init(client: RuntimeClient, now: @escaping @Sendable () -> Date = Date.init) {
        self.client = client
        self.now = now
    }

    public func read(backend: String, metrics: Set<MetricName>) async -> [MetricSample] {
        let table: StatTable
        do {
            table = try await client.showStat(backend: backend)
        } catch {
            let time = now()
            return metrics.sorted(by: Self.order).map {
                MetricSample(metric: $0, time: time, reading: .error("HAProxy show stat failed: \(error)"))
            }
        }
        return samples(from: table, backend: backend, metrics: metrics, time: now())
    }

    /// Computes samples from a table already read; separate so tests can feed crafted tables.
    public func samples(from table: StatTable, backend: String, metrics: Set<MetricName>, time: Date) -> [MetricSample]
    {
        guard let row = table.backend(backend) else {
            return metrics.sorted(by: Self.order).map {
                MetricSample(metric: $0, time: time, reading: .error("HAProxy reports no backend '\(backend)'"))
            }
        }
        let serving = table.servers(of: backend).filter(\.isServing).count
        var result: [MetricSample] = []
        for metric in metrics.sorted(by: Self.order) {
            result.append(
                MetricSample(
                    metric: metric, time: time, reading: reading(metric, row: row, serving: serving, time: time)))
        }
        return result
    }

    private func reading(_ metric: MetricName, row: StatRow, serving: Int, time: Date) -> MetricSample.Reading {
        func column(_ name: String) -> MetricSample.Reading {
            guard let value = row.number(name) else {
                return .error("HAProxy's \(name) for \(row.proxy) is empty or not a number")
            }
            return .value(value)
        }
        func perServer(_ name: String) -> MetricSample.Reading {
            guard serving > 0 else { return .error("no serving server in \(row.proxy) to divide \(name) by") }
            guard let value = row.number(name) else {
                return .error("HAProxy's \(name) for \(row.proxy) is empty or not a number")
            }
            return .value(value / Double(serving))
        }
        switch metric {
        case .sessions: return column("scur")
        case .sessionsPerServer: return perServer("scur")
        case .queue: return column("qcur")
        case .sessionRate: return column("rate")
        case .sessionRatePerServer: return perServer("rate")
        case .responseTimeMs: return column("rtime")
        case .queueTimeMs: return column("qtime")
        case .totalTimeMs: return column("ttime")
        case .serversUp: return .value(Double(serving))
        case .errorRate5xx: return errorRate(row: row, time: time)
        }
    }

    private func errorRate(row: StatRow, time: Date) -> MetricSample.Reading {
        guard let count = row.number("hrsp_5xx") else {
            return .error("HAProxy's hrsp_5xx for \(row.proxy) is empty (is the backend in 'mode http'?)")
        }
        let previous = counters.withLock { state in
            defer { state[row.proxy] = (count, time) }
            return state[row.proxy]
        }
        guard let previous else {
            return .error("error_rate_5xx needs two reads; the first one only sets the baseline")
        }
        let elapsed = time.timeIntervalSince(previous.time)
        guard elapsed > 0 else { return .error("error_rate_5xx: no time passed since the previous read") }
        // A counter that went down was reset by a restart: everything counted since is new.
        let increase = count >= previous.value ? count - previous.value : count
        return .value(increase / elapsed)
    }

    private static func order(_ a: MetricName, _ b: MetricName) -> Bool { a.rawValue < b.rawValue }
}
