import FlockCore
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHAProxy

/// `HAProxyMetricsSource`: real traffic through a real HAProxy, and counter arithmetic on crafted tables.
@Suite(.timeLimit(.minutes(2)))
struct MetricsSourceTests {
    static func values(_ samples: [MetricSample]) -> [MetricName: Double] {
        Dictionary(uniqueKeysWithValues: samples.compactMap { sample in sample.value.map { (sample.metric, $0) } })
    }

    /// Issue list 1: sessions and rates move with real traffic, per-server metrics divide by serving servers.
    @Test func sessionsAndRatesFollowRealTraffic() async throws {
        let one = try TestHTTPServer(name: "one")
        let two = try TestHTTPServer(name: "two")
        let three = try TestHTTPServer(name: "three")
        defer { [one, two, three].forEach { $0.stop() } }
        let haproxy = try await HAProxyInstance(backends: [
            .init(name: "app", servers: [("web1", one.port), ("web2", two.port), ("web3", three.port)])
        ])
        defer { haproxy.stop() }
        let client = haproxy.client
        // One server drained: it no longer counts as serving.
        try await client.setState(.drain, backend: "app", server: "web3")
        let source = HAProxyMetricsSource(client: client)
        let all = Set(MetricName.allCases)

        let idle = Self.values(await source.read(backend: "app", metrics: all))
        #expect(idle[.sessions] == 0)
        #expect(idle[.sessionsPerServer] == 0)
        #expect(idle[.serversUp] == 2)
        #expect(idle[.queue] == 0)
        #expect(idle[.errorRate5xx] == nil)  // the first read only sets the baseline

        // Hold 6 slow requests open and send a burst of fast ones and some failures.
        let port = haproxy.frontendPort
        let slow = (0..<6).map { _ in Task { try await TestHTTPClient.get(port: port, path: "/slow?ms=8000") } }
        for _ in 0..<20 { _ = try await TestHTTPClient.get(port: port, path: "/") }
        for _ in 0..<4 { #expect(try await TestHTTPClient.get(port: port, path: "/fail").status == 500) }

        var busy: [MetricName: Double] = [:]
        let reached = try await eventually(timeout: .seconds(7)) {
            busy = Self.values(await source.read(backend: "app", metrics: all))
            return busy[.sessions] == 6
        }
        #expect(reached, "sessions never reached 6: \(busy)")
        #expect(busy[.sessionsPerServer] == 3)
        #expect(busy[.serversUp] == 2)
        #expect((busy[.sessionRate] ?? 0) > 0)
        #expect(busy[.sessionRatePerServer] == (busy[.sessionRate] ?? -1) / 2)
        #expect((busy[.errorRate5xx] ?? 0) > 0)
        #expect(busy[.responseTimeMs] != nil && busy[.totalTimeMs] != nil && busy[.queueTimeMs] != nil)

        for task in slow { #expect(try await task.value.status == 200) }
        let after = Self.values(await source.read(backend: "app", metrics: [.sessions]))
        #expect(after[.sessions] == 0)
    }

    /// Failures give error samples for every metric asked for, never zeros.
    @Test func unreachableOrUnknownBackendGivesErrorSamples() async throws {
        let haproxy = try await HAProxyInstance(backends: [.init(name: "app")])
        defer { haproxy.stop() }
        let metrics: Set<MetricName> = [.sessions, .sessionsPerServer, .queue]

        let unknown = await HAProxyMetricsSource(client: haproxy.client).read(backend: "nope", metrics: metrics)
        #expect(unknown.count == 3)
        #expect(unknown.allSatisfy { $0.value == nil })

        // No server is serving: per-server metrics cannot be computed, totals still can.
        let empty = await HAProxyMetricsSource(client: haproxy.client).read(backend: "app", metrics: metrics)
        #expect(Self.values(empty) == [.sessions: 0, .queue: 0])

        haproxy.stop()
        let down = await HAProxyMetricsSource(client: haproxy.client).read(backend: "app", metrics: metrics)
        #expect(down.count == 3)
        for sample in down {
            guard case .error(let reason) = sample.reading else {
                Issue.record("\(sample.metric) read as \(sample.reading)")
                continue
            }
            #expect(reason.contains("cannot connect"))
        }
    }

    /// `error_rate_5xx` from counter deltas, with a restart's reset counted as new errors.
    @Test func errorRateUsesCounterDeltasAndSurvivesResets() throws {
        let source = HAProxyMetricsSource(client: RuntimeClient(endpoint: .unix(path: "/unused")))
        func table(_ errors: String) throws -> StatTable {
            try StatTable(parsing: "# pxname,svname,scur,status,hrsp_5xx,\napp,BACKEND,0,UP,\(errors),\n")
        }
        func rate(_ errors: String, at seconds: Double) throws -> MetricSample.Reading {
            let time = Date(timeIntervalSince1970: seconds)
            return source.samples(from: try table(errors), backend: "app", metrics: [.errorRate5xx], time: time)[0]
                .reading
        }
        guard case .error = try rate("100", at: 1000) else { Issue.record("first read must be an error"); return }
        #expect(try rate("150", at: 1010) == .value(5))
        #expect(try rate("150", at: 1020) == .value(0))
        #expect(try rate("30", at: 1030) == .value(3))  // reset: 30 new errors in 10 s
        guard case .error = try rate("", at: 1040) else { Issue.record("an empty counter must be an error"); return }
        guard case .error = try rate("40", at: 1030) else { Issue.record("no elapsed time must be an error"); return }
    }
}
