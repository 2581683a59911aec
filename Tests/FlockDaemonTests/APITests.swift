import FlockCore
import FlockDaemon
import FlockStore
import FlockTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The HTTP API on a real loopback port, over an in-memory pool.
@Suite struct APITests {
    static let token = "test-token-0123456789"

    /// Runs the API (and, when asked, the pool loop) until `body` returns, then shuts down.
    func withServer(
        _ pool: InMemoryPool, token: String? = APITests.token, runPool: Bool = false, limits: APILimits = APILimits(),
        _ body: (Int) async throws -> Void
    ) async throws {
        _ = DaemonMetrics.registry
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = APIServer(store: pool.store, pools: [pool.runtime], token: token, limits: limits)
            .application(listen: ListenAddress(host: "127.0.0.1", port: 0), logger: Logger(label: "api-test")) {
                continuation.yield($0)
            }
        var services: [any Service] = [app]
        if runPool { services.append(PoolService(runtime: pool.runtime, logger: Logger(label: "pool-test"))) }
        let group = ServiceGroup(configuration: .init(services: services, logger: Logger(label: "api-test")))
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func healthAndMetricsAfterTicks() async throws {
        let pool = try InMemoryPool()
        pool.setLoad(5)
        try await withServer(pool, runPool: true) { port in
            let health = try await HTTP.request("GET", port: port, "/healthz")
            #expect(health.status == 200)
            #expect(health.json?["status"] as? String == "ok")

            #expect(try await eventually { (try? pool.decisionCount()) ?? 0 >= 2 })
            let metrics = try await HTTP.request("GET", port: port, "/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.contentType?.hasPrefix("text/plain") == true)
            for family in [
                "flock_decisions_total{", "flock_instances{", "flock_metric_missing{", "flock_tick_seconds_bucket{",
                "flock_metric_staleness_seconds{", "flock_pool_paused{", "flock_capacity{", "flock_capacity_max{",
                "flock_standby_target{",
                // At zero from the pool's start, before any clone serves or fails.
                "flock_errors_total{", "flock_clone_to_serving_seconds_bucket{",
            ] {
                #expect(metrics.text.contains(family), "missing \(family)")
            }
            #expect(metrics.text.contains("flock_decisions_total{pool=\"web\",action=\"hold\"}"))
        }
    }

    @Test func theForecastIsExportedAndNaNWhileItAbstains() async throws {
        var policy = InMemoryPool.policy()
        policy.predictive = .init(check: "load", season: .seconds(3600), lead: .seconds(60), mode: .forecastOnly)
        let pool = try InMemoryPool(policy: policy)
        pool.setLoad(5)
        try await withServer(pool, runPool: true) { port in
            #expect(try await eventually { (try? pool.decisionCount()) ?? 0 >= 2 })
            let metrics = try await HTTP.request("GET", port: port, "/metrics")
            // No history yet: a fresh store has less than one season. (The registry is shared by
            // every test in the process, so other pools' forecasts may be listed too.)
            let lines = metrics.text.split(separator: "\n").filter { $0.hasPrefix("flock_forecast{") }
            #expect(lines.contains("flock_forecast{pool=\"web\",metric=\"sessions\"} nan"), "\(lines)")
            let status = try await HTTP.request("GET", port: port, "/v1/pools/web")
            let forecast = (status.json?["last_decision"] as? [String: Any])?["forecast"] as? [String: Any]
            #expect(forecast?["check"] as? String == "load")
            #expect((forecast?["abstained"] as? String)?.isEmpty == false, "\(String(describing: forecast))")
        }
    }

    @Test func poolEndpointsHaveTheirJSONShapes() async throws {
        let pool = try InMemoryPool()
        pool.setLoad(5)
        try await withServer(pool, runPool: true) { port in
            #expect(try await eventually { pool.runtime.lastTick.decision != nil })
            let list = try await HTTP.request("GET", port: port, "/v1/pools")
            #expect(list.status == 200)
            #expect(list.contentType == "application/json")
            let pools = list.json?["pools"] as? [[String: Any]]
            #expect(pools?.count == 1)
            let web = try #require(pools?.first)
            #expect(web["name"] as? String == "web")
            #expect(web["backend"] as? String == "app")
            #expect(web["paused"] as? Bool == false)
            #expect(web["serving"] as? Int == 1)
            #expect(web["warming"] as? Int == 0)
            #expect(web["draining"] as? Int == 0)
            #expect(web["policy_version"] as? Int == 1)
            #expect(web["running_policy_version"] as? Int == 1)
            #expect(web["recovered"] as? Bool == true)
            #expect(web.keys.contains("manual_desired"))
            let last = try #require(web["last_decision"] as? [String: Any])
            #expect(last["action"] as? String == "hold")
            #expect((last["reason"] as? String)?.isEmpty == false)

            let one = try await HTTP.request("GET", port: port, "/v1/pools/web")
            #expect(one.status == 200)
            #expect(one.json?["name"] as? String == "web")

            let instances = try await HTTP.request("GET", port: port, "/v1/pools/web/instances")
            #expect(instances.status == 200)
            let rows = instances.json?["instances"] as? [[String: Any]]
            #expect(rows?.first?["name"] as? String == "web-parent")
            #expect(rows?.first?["role"] as? String == "parent")
            #expect(rows?.first?["state"] as? String == "serving")
        }
    }

    /// `/v1/hosts` lists what the placing pools' hypervisors report; `flockctl hosts` shows it,
    /// guest- or host-written text escaped.
    @Test func hostsAreListedAndShownByFlockctl() async throws {
        let seen = Date(timeIntervalSince1970: 1_800_000_000)
        let pool = try InMemoryPool(hosts: [
            HostStatus(
                name: "b1", pools: ["web"], reachable: true, vms: 3, memAvailableBytes: 6 << 30, cores: 8, load: 0.5,
                snapshots: ["web-parent-g2-lazy"], lastAnswer: seen),
            HostStatus(
                name: "b2", pools: ["web"], reachable: false, lost: "host b2 lost: no answer for 15.2s",
                lastError: "listing VMs: ssh exited\u{1b}[2J", lastAnswer: seen.addingTimeInterval(-60)),
        ])
        try await withServer(pool) { port in
            let hosts = try await HTTP.request("GET", port: port, "/v1/hosts")
            #expect(hosts.status == 200)
            let list = try #require(hosts.json?["hosts"] as? [[String: Any]])
            #expect(list.map { $0["name"] as? String } == ["b1", "b2"])
            #expect(list.first?["mem_available_bytes"] as? Int == 6 << 30)
            #expect(list.first?["snapshots"] as? [String] == ["web-parent-g2-lazy"])
            #expect(list.first?["pools"] as? [String] == ["web"])
            #expect(list.last?["reachable"] as? Bool == false)
            #expect((list.last?["lost"] as? String)?.hasPrefix("host b2 lost") == true)

            let binary = try #require(BuiltBinary.url("flockctl"))
            let shown = try await Child.run(binary, ["hosts", "--api", "http://127.0.0.1:\(port)"], in: pool.scratch)
            #expect(shown.status == 0, "\(shown.stderr)")
            let rows = shown.stdout.split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true)
            }
            #expect(rows.first?.prefix(3) == ["HOST", "STATE", "VMS"], "\(shown.stdout)")
            #expect(rows.dropFirst().first?.prefix(5) == ["b1", "up", "3", "6144", "MiB"], "\(shown.stdout)")
            #expect(rows.dropFirst(2).first?.prefix(3) == ["b2", "lost", "-"], "\(shown.stdout)")
            #expect(shown.stdout.contains("b2: last error: listing VMs: ssh exited\\u001b[2J"), "\(shown.stdout)")
            let json = try await Child.run(
                binary, ["hosts", "--api", "http://127.0.0.1:\(port)", "--json"], in: pool.scratch)
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect((object?["hosts"] as? [[String: Any]])?.count == 2, "\(json.stdout)")
        }
        let unreachable = try await Child.run(
            try #require(BuiltBinary.url("flockctl")), ["hosts", "--api", "http://127.0.0.1:1"], in: pool.scratch)
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot reach flockd at http://127.0.0.1:1"), "\(unreachable.stderr)")
    }

    @Test func eventsSinceAndPoolFilter() async throws {
        let pool = try InMemoryPool()
        let first = try pool.store.record(Event(time: Date(), pool: "web", kind: .instance, message: "one"))
        try pool.store.record(Event(time: Date(), pool: "web", kind: .failure, message: "two"))
        try pool.store.record(Event(time: Date(), pool: nil, kind: .failure, message: "global"))
        try await withServer(pool) { port in
            let all = try await HTTP.request("GET", port: port, "/v1/events")
            #expect(all.status == 200)
            #expect(
                (all.json?["events"] as? [[String: Any]])?.map { $0["message"] as? String } == ["one", "two", "global"])

            let after = try await HTTP.request("GET", port: port, "/v1/events?since=\(first)&pool=web")
            let events = after.json?["events"] as? [[String: Any]]
            #expect(events?.map { $0["message"] as? String } == ["two"])
            #expect(events?.first?["kind"] as? String == "failure")
            #expect(after.json?["last_id"] as? Int == Int(first) + 1)

            for bad in ["/v1/events?since=abc", "/v1/events?since=-1", "/v1/events?limit=0"] {
                let result = try await HTTP.request("GET", port: port, bad)
                #expect(result.status == 400, "\(bad): \(result)")
                #expect((result.json?["error"] as? String)?.isEmpty == false)
            }
            #expect(try await HTTP.request("GET", port: port, "/v1/events?pool=nope").status == 404)
        }
    }

    @Test func mutatingEndpointsNeedTheToken() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool) { port in
            for (method, path, body) in [
                ("POST", "/v1/pools/web/pause", nil), ("POST", "/v1/pools/web/resume", nil),
                ("PUT", "/v1/pools/web/desired", "{\"count\": 3}"),
            ] as [(String, String, String?)] {
                let missing = try await HTTP.request(method, port: port, path, body: body)
                #expect(missing.status == 401, "\(path): \(missing)")
                #expect(missing.contentType == "application/json")
                #expect((missing.json?["error"] as? String)?.contains("Bearer") == true)
                let wrong = try await HTTP.request(
                    method, port: port, path, token: "wrong-token-0123456789", body: body)
                #expect(wrong.status == 401, "\(path): \(wrong)")
            }
            let pooled = try pool.store.pool(named: "web")
            #expect(pooled?.paused == false)
            #expect(pooled?.manualDesired == nil)
        }
    }

    @Test func withoutAConfiguredTokenChangesAreForbidden() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool, token: nil) { port in
            let result = try await HTTP.request("POST", port: port, "/v1/pools/web/pause", token: APITests.token)
            #expect(result.status == 403)
            #expect(try pool.store.pool(named: "web")?.paused == false)
        }
    }

    @Test func pauseResumeAndDesiredTakeEffectInTheStore() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool) { port in
            let paused = try await HTTP.request("POST", port: port, "/v1/pools/web/pause", token: APITests.token)
            #expect(paused.status == 200)
            #expect(paused.json?["paused"] as? Bool == true)
            #expect(try pool.store.pool(named: "web")?.paused == true)

            let resumed = try await HTTP.request("POST", port: port, "/v1/pools/web/resume", token: APITests.token)
            #expect(resumed.json?["paused"] as? Bool == false)
            #expect(try pool.store.pool(named: "web")?.paused == false)

            let set = try await HTTP.request(
                "PUT", port: port, "/v1/pools/web/desired", token: APITests.token, body: "{\"count\": 4}")
            #expect(set.status == 200)
            #expect(set.json?["manual_desired"] as? Int == 4)
            #expect(try pool.store.pool(named: "web")?.manualDesired == 4)

            let cleared = try await HTTP.request(
                "PUT", port: port, "/v1/pools/web/desired", token: APITests.token, body: "{\"count\": null}")
            #expect(cleared.status == 200)
            #expect(try pool.store.pool(named: "web")?.manualDesired == nil)
        }
    }

    @Test func badInputIs400AndUnknownPoolIs404() async throws {
        let pool = try InMemoryPool()
        try await withServer(pool) { port in
            for body in [
                "{\"count\": 0}", "{\"count\": -2}", "{\"count\": 2.5}", "{\"count\": \"3\"}", "{}", "{\"cuont\": 3}",
                "nope", "[3]",
            ] {
                let result = try await HTTP.request(
                    "PUT", port: port, "/v1/pools/web/desired", token: APITests.token, body: body)
                #expect(result.status == 400, "\(body): \(result)")
                #expect((result.json?["error"] as? String)?.isEmpty == false, "\(body)")
            }
            #expect(try pool.store.pool(named: "web")?.manualDesired == nil)
            for (method, path) in [
                ("GET", "/v1/pools/nope"), ("GET", "/v1/pools/nope/instances"), ("POST", "/v1/pools/nope/pause"),
            ] {
                let result = try await HTTP.request(method, port: port, path, token: APITests.token)
                #expect(result.status == 404, "\(path): \(result)")
                #expect((result.json?["error"] as? String)?.contains("no pool 'nope'") == true)
            }
        }
    }
}

@Suite struct ApiTokenTests {
    @Test func comparesWholeTokensOnly() {
        #expect(ApiToken.matches("abcdef0123456789", "abcdef0123456789"))
        #expect(!ApiToken.matches("abcdef0123456788", "abcdef0123456789"))
        #expect(!ApiToken.matches("abcdef012345678", "abcdef0123456789"))
        #expect(!ApiToken.matches("abcdef01234567890", "abcdef0123456789"))
        #expect(!ApiToken.matches("", "abcdef0123456789"))
    }

    @Test func readsBearerHeadersOnly() {
        #expect(ApiToken.bearer("Bearer abc") == "abc")
        #expect(ApiToken.bearer("bearer  abc ") == "abc")
        #expect(ApiToken.bearer("Basic abc") == nil)
        #expect(ApiToken.bearer("Bearer") == nil)
        #expect(ApiToken.bearer(nil) == nil)
    }
}
