import FlockSystem
import FlockTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `Deploy/prometheus/`, checked for real: promtool accepts it, and a real Prometheus scraping the
/// built flockd (on a real HAProxy) and HAProxy's exporter evaluates every rule to data and raises
/// the alerts whose conditions the test causes. No VM boots: the pools' clones and standbys fail
/// for want of a parent VM, which is one of the conditions.
@Suite(.serialized) struct PrometheusRulesTests {
    func promtool() throws -> URL {
        URL(fileURLWithPath: try #require(TestPrometheus.promtool, "\(TestPrometheus.notInstalled)"))
    }

    @Test func promtoolAcceptsTheShippedConfigAndRules() async throws {
        let scratch = try Scratch()
        let config = try await Child.run(
            try promtool(), ["check", "config", Repo.path("Deploy/prometheus/prometheus.yml")], in: scratch)
        #expect(config.status == 0, "\(config)")
        #expect(config.stdout.contains("SUCCESS: 2 rule files found"), "\(config)")
        let rules = try await Child.run(try promtool(), ["check", "rules"] + TestPrometheus.ruleFiles, in: scratch)
        #expect(rules.status == 0, "\(rules)")
        #expect(!rules.stdout.contains("FAILED") && !rules.stderr.contains("FAILED"), "\(rules)")

        // The same check refuses a rule file with a broken expression, so passing means something.
        let shipped = try String(contentsOfFile: TestPrometheus.ruleFiles[0], encoding: .utf8)
        let broken = try scratch.write(
            "broken.yml",
            shipped.replacingOccurrences(of: "flock_capacity / flock_capacity_max", with: "flock_capacity /"))
        let refused = try await Child.run(try promtool(), ["check", "rules", broken], in: scratch)
        #expect(refused.status == 1, "\(refused)")
    }

    /// Two pools on one flockd, each set up so that alerts have something to catch:
    /// - `web`: capacity.max 1 (always at max), placed over `local` and a host `b1` whose SSH port
    ///   refuses connections (down);
    /// - `spare`: capacity.max 2 with one standby, whose restore fails (no parent VM runs).
    /// Both check `sessions` (the backend's total), which HAProxy reports with no server up.
    func twoPoolConfig(_ scratch: Scratch, haproxy: TestHAProxy) throws -> String {
        let sessions = { (text: String) in
            text.replacingOccurrences(of: "max: 16", with: "max: 1")
                .replacingOccurrences(of: "evaluation_interval: 2s", with: "evaluation_interval: 500ms")
                .replacingOccurrences(of: "metric: sessions_per_server", with: "metric: sessions")
        }
        try scratch.webPolicy(edit: sessions)
        try scratch.webPolicy("spare.yaml") {
            sessions($0).replacingOccurrences(of: "pool: web", with: "pool: spare")
                .replacingOccurrences(of: "parent: web-parent", with: "parent: spare-parent")
                .replacingOccurrences(of: "backend: app", with: "backend: spare")
                .replacingOccurrences(of: "max: 1 }", with: "max: 2 }") + "standby: { count: 1 }\n"
        }
        let key = try scratch.write("id_ed25519", "not a key: the host is never reached\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
        let knownHosts = try scratch.write("known_hosts", "")
        return try scratch.write(
            "flockd.yaml",
            """
            store: { path: state/flock.db }
            log: { format: json, level: info }
            balancers: { lb: { kind: haproxy, socket: \(haproxy.socketPath) } }
            hypervisors: { vm: { kind: qemu, state_root: \(scratch.path("qemu")) } }
            hosts:
              b1:
                ssh: root@127.0.0.1
                port: \(try freeLoopbackPort())
                identity_file: \(key)
                known_hosts: \(knownHosts)
                state_root: /run/flock/host
                bridge: flkbr0
                cidr: 10.232.1.0/24
            pools:
              web:
                policy: web.yaml
                balancer: lb
                hypervisor: vm
                parent: web-parent
                placement: { hosts: [local, b1] }
              spare: { policy: spare.yaml, balancer: lb, hypervisor: vm, parent: spare-parent }
            """)
    }

    @Test func theShippedRulesEvaluateOnARealFlockdAndTheirAlertsFire() async throws {
        let scratch = try Scratch()
        let haproxy = try await TestHAProxy(in: scratch)
        let config = try twoPoolConfig(scratch, haproxy: haproxy)
        let port = try freeLoopbackPort()
        let flockd = try await Child.start(
            try #require(BuiltBinary.url("flockd"), "flockd not built next to the test runner nor in .build/debug"),
            ["--config", config], environment: ["FLOCKD_LISTEN": "127.0.0.1:\(port)"], in: scratch, name: "flockd")
        let healthy = await eventually { (try? await HTTP.request("GET", port: port, "/healthz"))?.status == 200 }
        try #require(healthy, "flockd did not answer /healthz: \(flockd.stderr)")

        let prometheus = try await TestPrometheus(
            in: scratch,
            targets: [("flockd", "127.0.0.1:\(port)"), ("haproxy", "127.0.0.1:\(haproxy.exporterPort)")])

        // A few ticks and an unanswered host make every family exist.
        _ = try await HTTP.request("GET", port: port, "/v1/hosts")
        let families = ["flock_host_up{", "flock_tick_seconds_count{", "flock_standby_target{"]
        let complete = await eventually(timeout: .seconds(60), every: .milliseconds(500)) {
            let page = (try? await HTTP.request("GET", port: port, "/metrics"))?.text ?? ""
            return families.allSatisfy { page.contains($0) }
        }
        let flockdPage = try await HTTP.request("GET", port: port, "/metrics").text
        try #require(complete, "flockd's /metrics lacks one of \(families):\n\(flockdPage)\n\(flockd.stderr)")
        let haproxyPage = try await HTTP.request("GET", port: haproxy.exporterPort, "/metrics").text

        let rules = try await prometheus.rules()
        let recorded = Set(rules.compactMap { $0["type"] as? String == "recording" ? $0["name"] as? String : nil })
        let alerting = rules.filter { $0["type"] as? String == "alerting" }
        #expect(recorded.count == 7 && alerting.count == 8, "\(rules)")

        // Every alert waits, says how bad it is, and explains itself.
        for alert in alerting {
            let name = alert["name"] as? String ?? "?"
            #expect((alert["duration"] as? Double ?? 0) > 0, "\(name) has no 'for:'")
            let labels = alert["labels"] as? [String: String] ?? [:]
            #expect(["warning", "critical"].contains(labels["severity"] ?? ""), "\(name): severity \(labels)")
            let annotations = alert["annotations"] as? [String: String] ?? [:]
            #expect(!(annotations["summary"] ?? "").isEmpty && !(annotations["description"] ?? "").isEmpty, "\(name)")
        }

        // No stray name: each one an expression selects is on flockd's page, on HAProxy's
        // exporter's, another rule's record, or `up` (Prometheus's own per target).
        let exposed = PromQLNames.exposed(in: flockdPage).union(PromQLNames.exposed(in: haproxyPage))
        let selected = rules.reduce(into: Set<String>()) { names, rule in
            names.formUnion(PromQLNames.selected(in: rule["query"] as? String ?? ""))
        }
        #expect(selected.isSuperset(of: ["flock_capacity_max", "flock_clone_to_serving_seconds_bucket", "up"]))
        let stray = selected.subtracting(exposed).subtracting(recorded).subtracting(["up"])
        #expect(stray.isEmpty, "rules select names neither flockd nor HAProxy exports: \(stray.sorted())")

        // Every recording rule returns data, and every rule evaluates without error.
        for name in recorded.sorted() {
            let data = await eventuallyRetryingErrors(timeout: .seconds(60), every: .seconds(1)) {
                !(try await prometheus.query(name)).isEmpty
            }
            #expect(data, "recording rule \(name) returned no data")
        }
        for rule in try await prometheus.rules() {
            #expect(rule["health"] as? String == "ok", "\(rule)")
        }
        // So does every alert's expression without its threshold (`... == 0` → `...`): what it
        // compares exists, so an alert that stays quiet below does so because its condition is
        // false, not because it selects nothing. (The two that compare series with series are
        // caused below.)
        var thresholds = 0
        for alert in alerting {
            let query = alert["query"] as? String ?? ""
            let operand = query.replacingOccurrences(
                of: #"\s*(==|!=|>=|<=|>|<)\s*[0-9.]+\s*$"#, with: "", options: .regularExpression)
            guard operand != query else { continue }
            thresholds += 1
            let data = await eventuallyRetryingErrors(timeout: .seconds(30), every: .seconds(1)) {
                !(try await prometheus.query(operand)).isEmpty
            }
            #expect(data, "\(alert["name"] ?? "?"): \(operand) returned no data")
        }
        #expect(thresholds == 6, "alerts compared with a number: \(thresholds)")

        // Alerts for the conditions in place: pending (their 'for:' of 5 and 10 minutes is not
        // waited out) or, for the host, firing after its minute.
        for (alert, pool) in [
            ("FlockPoolAtMaxCapacity", "web"), ("FlockStandbysBelowTarget", "spare"), ("FlockCloneFailures", "spare"),
        ] {
            let active = await eventuallyRetryingErrors(timeout: .seconds(60), every: .seconds(1)) {
                try await prometheus.alerts().contains { $0.name == alert && $0.labels["pool"] == pool }
            }
            let seen = try await prometheus.alerts()
            #expect(active, "\(alert) for \(pool) is not active: \(seen)")
        }
        let atMax = try await prometheus.alerts().filter { $0.name == "FlockPoolAtMaxCapacity" }
        #expect(atMax.allSatisfy { $0.labels["pool"] == "web" }, "the spare pool has room left: \(atMax)")
        let hostDown = await eventuallyRetryingErrors(timeout: .seconds(120), every: .seconds(1)) {
            try await prometheus.alerts().contains {
                $0.name == "FlockHostDown" && $0.labels["host"] == "b1" && $0.state == "firing"
            }
        }
        var seen = try await prometheus.alerts()
        #expect(hostDown, "FlockHostDown is not firing for b1: \(seen)")
        // Decisions are made and the checks have data: those alerts stay quiet.
        #expect(
            !seen.contains { ["FlockMetricMissing", "FlockDecisionsStalled", "FlockdDown"].contains($0.name) },
            "\(seen)")

        // The metrics source gone: HAProxy killed, both pools' checks have no data, and HAProxy's
        // exporter stops answering.
        haproxy.child.signal(SIGKILL)
        _ = await haproxy.child.waitForExit()
        let exporterDown = await eventuallyRetryingErrors(timeout: .seconds(60), every: .seconds(1)) {
            try await prometheus.alerts().contains { $0.name == "HAProxyExporterDown" }
        }
        seen = try await prometheus.alerts()
        #expect(exporterDown, "HAProxyExporterDown is not active: \(seen)")
        // Each pool's tick notices on its own: wait for both, not for the first.
        let bothMissing = await eventuallyRetryingErrors(timeout: .seconds(60), every: .seconds(1)) {
            let missing = try await prometheus.alerts().filter { $0.name == "FlockMetricMissing" }
            return Set(missing.map { $0.labels["pool"] ?? "" }) == ["web", "spare"]
        }
        seen = try await prometheus.alerts()
        #expect(bothMissing, "FlockMetricMissing is not active for both pools: \(seen)")

        // flockd itself gone.
        flockd.signal(SIGTERM)
        #expect(await flockd.waitForExit() == 0, "\(flockd.stderr)")
        let down = await eventuallyRetryingErrors(timeout: .seconds(60), every: .seconds(1)) {
            try await prometheus.alerts().contains { $0.name == "FlockdDown" }
        }
        seen = try await prometheus.alerts()
        #expect(down, "FlockdDown is not active: \(seen)")
        withExtendedLifetime((haproxy, prometheus)) {}
    }
}
