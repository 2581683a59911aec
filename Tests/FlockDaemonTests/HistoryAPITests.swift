import FlockCore
import FlockDaemon
import FlockStore
import FlockTestSupport
import Foundation
import Testing

/// The history endpoints the console draws from, their bounds and their errors, and the
/// console's own responses (`/ui`), on a real loopback port over an in-memory pool.
@Suite struct HistoryAPITests {
    let api = APITests()

    @Test func samplesCarryTheServingCountAtEachSampleTime() async throws {
        let pool = try InMemoryPool(policy: InMemoryPool.policy(max: 3))
        pool.setLoad(5)
        try await api.withServer(pool, runPool: true) { port in
            #expect(try await eventually { try pool.decisionCount() >= 3 })
            // 25 sessions per server against a target of 10: the pool scales out to its max, 3.
            pool.setLoad(25)
            #expect(try await eventually { try pool.clones(.serving).count >= 2 })
            #expect(try await eventually { try pool.decisionCount() >= 8 })

            let sampleTimes = { Set(try pool.store.samples(pool: "web", since: .distantPast).map(\.time)).count }
            let before = try sampleTimes()
            let result = try await HTTP.request("GET", port: port, "/v1/pools/web/samples?since=1h")
            let after = try sampleTimes()
            #expect(result.status == 200, "\(result)")
            let samples = try #require(result.json?["samples"] as? [[String: Any]])
            let serving = try #require(result.json?["serving"] as? [[String: Any]])
            #expect(result.json?["truncated"] as? Bool == false)
            #expect(samples.allSatisfy { $0["metric"] as? String == "sessions_per_server" })
            // One serving point per distinct sample time, each one the count then.
            let times = samples.compactMap { $0["time"] as? String }
            // (The pool goes on sampling: the store held `before` when asked, `after` once answered.)
            #expect((before...after).contains(serving.count), "\(serving.count) not in \(before)...\(after)")
            #expect(serving.count == times.count)
            let counts = serving.compactMap { $0["count"] as? Int }
            #expect(counts.first == 1, "\(counts)")
            #expect(counts.max() == 3 && counts.last == 3, "\(counts)")
            #expect(counts == counts.sorted(), "serving only grew: \(counts)")

            let one = try await HTTP.request("GET", port: port, "/v1/pools/web/samples?limit=1")
            #expect((one.json?["samples"] as? [[String: Any]])?.count == 1)
            #expect((one.json?["serving"] as? [[String: Any]])?.count == 1)
            #expect(one.json?["truncated"] as? Bool == true)
            #expect((one.json?["samples"] as? [[String: Any]])?.first?["time"] as? String == times.last)
        }
    }

    @Test func decisionsFilterByActionAndAreBounded() async throws {
        let pool = try InMemoryPool()
        pool.setLoad(5)
        try await api.withServer(pool, runPool: true) { port in
            #expect(try await eventually { try pool.decisionCount() >= 3 })
            pool.setLoad(25)
            #expect(
                try await eventually {
                    try !pool.store.decisions(pool: "web", since: .distantPast, actions: [.scaleOut]).isEmpty
                })

            let outs = try await HTTP.request("GET", port: port, "/v1/pools/web/decisions?action=scale_out")
            let rows = try #require(outs.json?["decisions"] as? [[String: Any]])
            #expect(!rows.isEmpty && rows.allSatisfy { $0["action"] as? String == "scale_out" }, "\(rows)")
            #expect((rows.first?["reason"] as? String)?.isEmpty == false)
            #expect(rows.first?["from"] as? Int == 1)

            let both = try await HTTP.request(
                "GET", port: port, "/v1/pools/web/decisions?action=hold,scale_out&limit=2")
            let two = try #require(both.json?["decisions"] as? [[String: Any]])
            #expect(two.count == 2 && both.json?["truncated"] as? Bool == true)
            // Two consecutive ones, oldest first (the pool goes on deciding, so the newest may
            // have changed since).
            let all = try pool.store.decisions(pool: "web", since: .distantPast, actions: [.hold, .scaleOut])
            let reasons = two.compactMap { $0["reason"] as? String }
            let pairs = zip(all, all.dropFirst()).map { [$0.reason, $1.reason] }
            #expect(pairs.contains(reasons), "\(reasons)")
            #expect(pairs.suffix(10).contains(reasons), "not among the newest: \(reasons)")
        }
    }

    @Test func badHistoryQueriesAre400WithTheReason() async throws {
        let pool = try InMemoryPool()
        try await api.withServer(pool) { port in
            for (path, words) in [
                ("/v1/pools/web/samples?since=abc", "since must be a duration"),
                ("/v1/pools/web/samples?since=0s", "from 1s to 24h"),
                ("/v1/pools/web/samples?since=25h", "got '25h'"),
                ("/v1/pools/web/samples?since=-1h", "since must be"),
                ("/v1/pools/web/samples?limit=0", "limit must be a whole number from 1 to 50000"),
                ("/v1/pools/web/samples?limit=50001", "got '50001'"),
                ("/v1/pools/web/decisions?limit=10001", "from 1 to 10000"),
                ("/v1/pools/web/decisions?action=grow", "action must be one or more of scale_out, scale_in, hold"),
                ("/v1/pools/web/decisions?action=scale_out,", "got 'scale_out,'"),
                ("/v1/pools/web/decisions?since=1d", "got '1d'"),
            ] {
                let result = try await HTTP.request("GET", port: port, path)
                #expect(result.status == 400, "\(path): \(result)")
                #expect(result.contentType == "application/json")
                #expect((result.json?["error"] as? String)?.contains(words) == true, "\(path): \(result)")
            }
            for path in ["/v1/pools/nope/samples", "/v1/pools/nope/decisions", "/v1/pools/nope/policy"] {
                let result = try await HTTP.request("GET", port: port, path)
                #expect(result.status == 404, "\(path): \(result)")
            }
            #expect(
                try await HTTP.request("GET", port: port, "/v1/pools/web/samples?since=24h&limit=50000").status == 200)
        }
    }

    @Test func thePolicyEndpointGivesTheCurrentAndPreviousText() async throws {
        let pool = try InMemoryPool()
        let v1 = try #require(try pool.store.currentPolicy(pool: "web")).source
        let v2 = v1.replacingOccurrences(of: "target: 20", with: "target: 30")
        try pool.store.applyPolicies(
            [PolicyChange(pool: "web", backend: "app", source: v2, checksum: "v2", note: "higher target")], by: "ops",
            at: Date())
        try await api.withServer(pool) { port in
            let result = try await HTTP.request("GET", port: port, "/v1/pools/web/policy")
            #expect(result.status == 200, "\(result)")
            let current = try #require(result.json?["current"] as? [String: Any])
            let previous = try #require(result.json?["previous"] as? [String: Any])
            #expect(current["version"] as? Int == 2 && current["source"] as? String == v2)
            #expect(current["applied_by"] as? String == "ops" && current["note"] as? String == "higher target")
            #expect(previous["version"] as? Int == 1 && previous["source"] as? String == v1)
            let versions = try #require(result.json?["versions"] as? [[String: Any]])
            #expect(versions.map { $0["version"] as? Int } == [2, 1])
            #expect(versions.allSatisfy { $0["source"] == nil })
            #expect(result.json?["running_version"] as? Int == 1)
            let checks = try #require(result.json?["checks"] as? [[String: Any]])
            #expect(checks.first?["name"] as? String == "load" && checks.first?["target"] as? Double == 10)
            #expect(checks.first?["metric"] as? String == "sessions_per_server")
        }
    }

    @Test func instancesNameTheirHost() async throws {
        let local = try InMemoryPool()
        try await api.withServer(local, runPool: true) { port in
            #expect(try await eventually { local.runtime.isRecovered })
            let rows = try await HTTP.request("GET", port: port, "/v1/pools/web/instances").json?["instances"]
            #expect((rows as? [[String: Any]])?.first?["host"] as? String == "local")
        }
        // A placing pool's instances are where its hypervisor says they are.
        let placed = try InMemoryPool(
            hosts: [HostStatus(name: "b1", pools: ["web"], reachable: true)], homes: ["web-parent": "b1"])
        try await api.withServer(placed, runPool: true) { port in
            #expect(try await eventually { placed.runtime.isRecovered })
            let rows = try await HTTP.request("GET", port: port, "/v1/pools/web/instances").json?["instances"]
            #expect((rows as? [[String: Any]])?.first?["host"] as? String == "b1")
        }
    }

    @Test func theConsoleIsServedWithAStrictContentSecurityPolicy() async throws {
        let pool = try InMemoryPool()
        try await api.withServer(pool) { port in
            for (path, type) in [
                ("/ui", "text/html"), ("/ui/", "text/html"), ("/ui/console.js", "text/javascript"),
                ("/ui/console.css", "text/css"),
            ] {
                let result = try await HTTP.request("GET", port: port, path)
                #expect(result.status == 200, "\(path)")
                #expect(result.contentType?.hasPrefix(type) == true, "\(path)")
                let policy = result.headers["content-security-policy"] ?? ""
                for directive in [
                    "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
                    "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
                ] {
                    #expect(policy.contains(directive), "\(path): \(policy)")
                }
                #expect(!policy.contains("unsafe"), "\(path): \(policy)")
                #expect(result.headers["x-content-type-options"] == "nosniff")
                let text = result.text
                #expect(!text.contains("innerHTML") && !text.contains("outerHTML") && !text.contains("document.write"))
                if type == "text/html" {
                    // Scripts and styles only from files: no inline ones for the policy to refuse.
                    #expect(
                        text.components(separatedBy: "<script").count == 2
                            && text.contains("<script src=\"/ui/console.js\""))
                    #expect(!text.contains("<style") && !text.contains("style="))
                    #expect(text.range(of: #"\son[a-z]+="#, options: .regularExpression) == nil, "an inline handler")
                }
            }
        }
    }
}
