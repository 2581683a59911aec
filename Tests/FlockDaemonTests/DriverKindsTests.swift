import FlockCore
import FlockDaemon
import FlockPolicy
import FlockTestSupport
import FlockTesting
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Testing

/// The driver plug-in points: a balancer kind that only this test knows, registered through
/// `DriverKinds` with no edit in FlockDaemon, and a pool whose load comes from a Prometheus
/// endpoint the test serves over real HTTP, chosen in the config apart from the balancer.
@Suite(.timeLimit(.minutes(2)))
struct DriverKindsTests {
    /// An Envoy-style exporter page: two hosts in cluster `app`, one healthy, one not.
    static let page = """
        # TYPE envoy_cluster_upstream_rq_active gauge
        envoy_cluster_upstream_rq_active{envoy_cluster_name="app"} 42
        envoy_cluster_upstream_rq_active{envoy_cluster_name="other"} 7
        # TYPE envoy_cluster_membership_healthy gauge
        envoy_cluster_membership_healthy{envoy_cluster_name="app"} 2
        # TYPE envoy_cluster_upstream_rq_time gauge
        envoy_cluster_upstream_rq_time{envoy_cluster_name="app"} 0.035

        """

    func config(_ scratch: Scratch, metrics: String) throws -> String {
        try scratch.webPolicy()
        return try scratch.write(
            "flockd.yaml",
            """
            store: { path: flock.db }
            balancers:
              lb: { kind: fake, backends: app }
            hypervisors:
              vm: { kind: memory }
            pools:
              web:
                policy: web.yaml
                balancer: lb
                hypervisor: vm
            \(metrics)
            """)
    }

    static let kinds = DriverKinds(
        hypervisors: DriverKinds.test.hypervisors, balancers: [FakeBalancerFactory()], metrics: DriverKinds.test.metrics
    )

    @Test func fakeBalancerAndPrometheusMetricsComeFromTheConfig() async throws {
        try await withExporter { port in
            let scratch = try Scratch()
            let path = try config(
                scratch,
                metrics: """
                        metrics:
                          kind: prometheus
                          url: http://127.0.0.1:\(port)/stats/prometheus
                          timeout: 2s
                          serving: { metric: envoy_cluster_membership_healthy, labels: { envoy_cluster_name: "{backend}" } }
                          queries:
                            sessions: { metric: envoy_cluster_upstream_rq_active, labels: { envoy_cluster_name: "{backend}" } }
                            response_time_ms:
                              metric: envoy_cluster_upstream_rq_time
                              labels: { envoy_cluster_name: "{backend}" }
                              scale: 1000
                    """)
            let config = try DaemonConfigParser.load(path: path, environment: [:], kinds: Self.kinds)
            #expect(config.balancers["lb"]?.kind == "fake")
            #expect(config.pools.first?.metrics.kind == "prometheus")

            let daemon = try await Daemon.prepare(config: config, kinds: Self.kinds, logger: Logger(label: "t"))
            let pool = try #require(daemon.pools.first)
            // The pool registers through the fake kind, whose `check(backend:)` passed at start-up.
            #expect(pool.balancer is InMemoryBalancer)
            let samples = await pool.metrics.read(
                backend: "app", metrics: [.sessions, .sessionsPerServer, .serversUp, .responseTimeMs, .queue])
            let values = Dictionary(uniqueKeysWithValues: samples.map { ($0.metric, $0.value) })
            #expect(values[.sessions] == 42)
            #expect(values[.serversUp] == 2)
            #expect(values[.sessionsPerServer] == 21)
            #expect(values[.responseTimeMs] == 35)
            #expect(values[.queue] == .some(nil))  // no query for it: an error sample, never zero
        }
    }

    @Test func aStartUpCheckThatFailsStopsTheDaemon() async throws {
        let scratch = try Scratch()
        let path = try config(
            scratch, metrics: "    metrics: { kind: prometheus, url: http://127.0.0.1:1/m, preset: haproxy }")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "backends: app", with: "backends: elsewhere")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let config = try DaemonConfigParser.load(path: path, environment: [:], kinds: Self.kinds)
        do {
            _ = try await Daemon.prepare(config: config, kinds: Self.kinds, logger: Logger(label: "t"))
            Issue.record("started on a backend the balancer does not have")
        } catch {
            #expect(error.message.contains("pool 'web': backend 'app' on balancer 'lb' (fake) cannot be used"))
        }
    }

    @Test func aBalancerWithoutMetricsOfItsOwnNeedsAMetricsSection() throws {
        let scratch = try Scratch()
        let found = configErrors(try config(scratch, metrics: ""), kinds: Self.kinds)
        #expect(found.count == 1)
        #expect(found.first?.line == 7)
        #expect(found.first?.message == "pools.web.metrics: balancer 'lb' (fake) has no metrics of its own")
    }

    @Test func badPrometheusSettingsAreLocatedAllInOneRun() throws {
        let scratch = try Scratch()
        let found = configErrors(
            try config(
                scratch,
                metrics: """
                        metrics:
                          kind: prometheus
                          url: ftp://nowhere
                          preset: envoy
                          queries:
                            sesions: { metric: a }
                            queue: { labels: [x] }
                            session_rate: { metric: b, kind: rate, scale: -1 }
                    """), kinds: Self.kinds)
        let byMessage = Dictionary(found.map { ($0.message, $0) }) { first, _ in first }
        #expect(byMessage["pools.web.metrics.url: must be an http:// or https:// URL; got 'ftp://nowhere'"]?.line == 13)
        #expect(byMessage["pools.web.metrics.preset: unknown preset 'envoy'"]?.line == 14)
        #expect(byMessage["pools.web.metrics.queries.sesions: unknown key"]?.hint == "did you mean 'sessions'?")
        #expect(byMessage["pools.web.metrics.queries.queue.metric: is required"] != nil)
        #expect(byMessage["pools.web.metrics.queries.queue.labels must be a single value or a mapping"]?.line == 17)
        #expect(
            byMessage["pools.web.metrics.queries.session_rate.kind: must be gauge or counter_rate; got 'rate'"]?.line
                == 18)
        #expect(byMessage["pools.web.metrics.queries.session_rate.scale: must be a positive number; got '-1'"] != nil)
        #expect(found.allSatisfy { $0.file == scratch.path("flockd.yaml") }, "\(found)")
    }

    @Test func theHAProxyDefaultNeedsASocketOnAnotherBalancer() throws {
        let scratch = try Scratch()
        let found = configErrors(try config(scratch, metrics: "    metrics: { kind: haproxy }"), kinds: Self.kinds)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("pools.web.metrics.socket: is required") == true)
    }

    /// Serves `page` at /stats/prometheus on a free loopback port for the length of `body`.
    func withExporter(_ body: (Int) async throws -> Void) async throws {
        let router = Router()
        router.get("/stats/prometheus") { _, _ in Self.page }
        let bound = AsyncStream<Int>.makeStream()
        let logger = Logger(label: "exporter")
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger)
        // A graceful shutdown at the end, not a cancellation, so the server closes quietly.
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let server = Task { try await group.run() }
        var ports = bound.stream.makeAsyncIterator()
        do {
            try await body(try #require(await ports.next()))
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await server.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await server.value
    }
}

/// `kind: fake`: an in-memory balancer whose backends the config lists, standing in for a
/// balancer kind (Envoy, nginx, a cloud LB) that only its own target and factory know.
struct FakeBalancerFactory: BalancerFactory {
    let kind = "fake"
    let settingKeys = ["backends"]
    let defaultMetricsKind: String? = nil

    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        settings["backends"] == nil ? [settings.diagnostic("backends", "is required")] : []
    }

    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Balancer {
        InMemoryBalancer(backends: (settings["backends"] ?? "").split(separator: ",").map(String.init))
    }
}
