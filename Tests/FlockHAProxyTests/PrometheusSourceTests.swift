import FlockCore
import FlockPrometheus
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHAProxy

/// The Prometheus text parser and source: HAProxy's real exporter, crafted pages and bad input.
@Suite(.timeLimit(.minutes(2)))
struct PrometheusSourceTests {
    @Test func haproxyExporterGivesTheCatalog() async throws {
        let one = try TestHTTPServer(name: "one")
        let two = try TestHTTPServer(name: "two")
        defer { [one, two].forEach { $0.stop() } }
        let exporterPort = try freeLoopbackPort()
        let haproxy = try await HAProxyInstance { socket, admin, frontend in
            HAProxyInstance.config(
                socket: socket, adminTCPPort: admin, frontendPort: frontend,
                backends: [.init(name: "app", servers: [("web1", one.port), ("web2", two.port)])]
            ) + "frontend prometheus\n    bind 127.0.0.1:\(exporterPort)\n"
                + "    http-request use-service prometheus-exporter if { path /metrics }\n"
        }
        defer { haproxy.stop() }
        let source = PrometheusMetricsSource.haproxy(url: URL(string: "http://127.0.0.1:\(exporterPort)/metrics")!)
        let all = Set(MetricName.allCases)
        _ = await source.read(backend: "app", metrics: all)  // baseline for the rates

        let port = haproxy.frontendPort
        let slow = (0..<4).map { _ in Task { try await TestHTTPClient.get(port: port, path: "/slow?ms=8000") } }
        for _ in 0..<3 { #expect(try await TestHTTPClient.get(port: port, path: "/fail").status == 500) }
        var values: [MetricName: Double] = [:]
        let reached = try await eventually(timeout: .seconds(7)) {
            let samples = await source.read(backend: "app", metrics: all)
            values = Dictionary(uniqueKeysWithValues: samples.compactMap { s in s.value.map { (s.metric, $0) } })
            return values[.sessions] == 4
        }
        #expect(reached, "\(values)")
        #expect(values[.serversUp] == 2)
        #expect(values[.sessionsPerServer] == 2)
        #expect((values[.sessionRate] ?? 0) > 0)
        #expect((values[.errorRate5xx] ?? 0) > 0)
        #expect(values[.responseTimeMs] != nil)
        for task in slow { #expect(try await task.value.status == 200) }

        let unknown = await source.read(backend: "nope", metrics: [.sessions])
        #expect(unknown.first?.value == nil)
    }

    @Test func unreachableEndpointGivesErrorSamples() async throws {
        let port = try freeLoopbackPort()
        let source = PrometheusMetricsSource.haproxy(
            url: URL(string: "http://127.0.0.1:\(port)/metrics")!, timeout: .seconds(2))
        let samples = await source.read(backend: "app", metrics: [.sessions, .queue])
        #expect(samples.count == 2)
        #expect(samples.allSatisfy { $0.value == nil })
    }

    @Test func genericQueriesSumMatchingSeries() throws {
        let page = try PrometheusText.parse(
            """
            # TYPE envoy_cluster_upstream_rq_active gauge
            envoy_cluster_upstream_rq_active{envoy_cluster_name="web",zone="a"} 3
            envoy_cluster_upstream_rq_active{envoy_cluster_name="web",zone="b"} 5 1700000000000
            envoy_cluster_upstream_rq_active{envoy_cluster_name="api"} 100
            envoy_cluster_membership_healthy{envoy_cluster_name="web"} 2
            odd_label{path="a \\"quoted\\" \\\\ back\\nslash"} +Inf

            """)
        #expect(page.count == 5)
        #expect(page[1].timestampMs == 1_700_000_000_000)
        #expect(page[4].labels["path"] == "a \"quoted\" \\ back\nslash")
        let source = PrometheusMetricsSource(
            url: URL(string: "http://127.0.0.1:1/")!,
            queries: [
                .sessions: PrometheusQuery(
                    metric: "envoy_cluster_upstream_rq_active", labels: ["envoy_cluster_name": "{backend}"])
            ],
            serving: PrometheusQuery(
                metric: "envoy_cluster_membership_healthy", labels: ["envoy_cluster_name": "{backend}"])
        )
        let samples = source.samples(
            from: page, backend: "web", metrics: [.sessions, .sessionsPerServer, .serversUp, .queue], time: Date())
        let values = Dictionary(uniqueKeysWithValues: samples.map { ($0.metric, $0.value) })
        #expect(values[.sessions] == 8)
        #expect(values[.sessionsPerServer] == 4)
        #expect(values[.serversUp] == 2)
        #expect(values[.queue] == .some(nil))  // no query: an error sample, not zero
    }

    @Test func badPagesAreErrorsAndRandomPagesNeverCrash() {
        for text in ["name{", "name{a=\"1} 2", "name{a=1} 2", "{a=\"1\"} 2", "name 1 2 3", "name abc", "name 1 x"] {
            #expect(throws: PrometheusError.self, "\(text)") { try PrometheusText.parse(text) }
        }
        var rng = SplitMix64(seed: 42)
        let alphabet = Array("ab_:{}=\",\\ 0.9e+-#\nInfNa\t")
        for _ in 0..<3000 {
            let text = String(
                (0..<Int(rng.next() % 120)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
            do {
                for sample in try PrometheusText.parse(text) { #expect(!sample.name.isEmpty) }
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }
}
