import FlockCore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockDemo

/// The demo's pure parts: wrk's summary, the load script, the summary maths, the chart, and the
/// generated configs (checked by haproxy and flockd themselves).
@Suite struct DemoPartsTests {
    static let wrkOutput = """
        Running 20s test @ http://127.0.0.1:40000/
          1 threads and 8 connections
          Thread Stats   Avg      Stdev     Max   +/- Stdev
            Latency     4.06ms    2.13ms  31.20ms   90.11%
            Req/Sec    76.20      5.10    80.00     97.00%
          1523 requests in 20.02s, 301.12KB read
          Socket errors: connect 1, read 2, write 3, timeout 4
          Non-2xx or 3xx responses: 5
        Requests/sec:     76.07
        Transfer/sec:     15.04KB
        """

    @Test func wrksSummaryIsParsedWithEveryKindOfFailure() throws {
        let report = try WrkReport(parsing: Self.wrkOutput)
        #expect(report.requests == 1523)
        #expect(report.connectErrors == 1 && report.readErrors == 2 && report.writeErrors == 3 && report.timeouts == 4)
        #expect(report.non2xx == 5 && report.failed == 15)
        let clean = try WrkReport(parsing: "  10 requests in 1.00s, 1KB read\n")
        #expect(clean.failed == 0 && (clean + report).requests == 1533)
        #expect(throws: DemoError.self) { try WrkReport(parsing: "wrk: unknown option\n") }
    }

    @Test func theLoadScriptRequestsOnlyWarmedKeysAndPacesConnections() {
        var plan = LoadPlan(delayMilliseconds: 80, keys: ["k1", "k2", "bad\"key", "k3"])
        #expect(plan.script.contains("local keys = {\"k1\", \"k2\", \"k3\"}"))
        #expect(plan.script.contains("return 80"))
        plan.baseConnections = 3
        #expect(plan.surgeConnections == 9 && plan.total == 150)
    }

    @Test func percentilesUseTheNearestRank() {
        #expect(DemoSummary.percentile([], 0.5) == nil)
        #expect(DemoSummary.percentile([1], 0.5) == 1)
        #expect(DemoSummary.percentile([1, 2, 3, 4], 0.5) == 2)
        #expect(DemoSummary.percentile([1, 2, 3], 0.5) == 2)
    }

    @Test func theSummaryJSONHasTheDocumentedKeysAndAFailureWhenNoCloneServed() throws {
        var summary = DemoSummary(
            reactionSeconds: 1.5, stepToDecisionSeconds: 2, cloneToServing: .init(p50: 0.9, max: 1.2),
            requestsTotal: 100, requestsByClones: 40, failedRequests: 0, maxServing: 3, clonesServed: 2, scaleOuts: 1,
            scaleIns: 1, mode: "lazy", durationSeconds: 150, chart: "/tmp/c.svg")
        let json = try #require(try JSONSerialization.jsonObject(with: summary.json) as? [String: Any])
        for key in [
            "reaction_s", "clone_to_serving_s", "requests_total", "requests_by_clones", "failed_requests",
            "max_serving", "chart",
        ] {
            #expect(json[key] != nil, "missing \(key)")
        }
        #expect((json["clone_to_serving_s"] as? [String: Any])?["p50"] as? Double == 0.9)
        #expect(json["chart"] as? String == "/tmp/c.svg")
        #expect(summary.failure == nil)
        #expect(summary.table.contains("requests served by clones") && summary.table.contains("40 (40%)"))
        summary.clonesServed = 0
        #expect(summary.failure == "no clone ever served")
    }

    @Test func theChartIsWellFormedSVGWithBothSeries() throws {
        let samples = (0..<30).map {
            DemoSample(
                t: Double($0), requestRate: $0 < 10 ? 20 : 80, serving: $0 < 12 ? 1 : 3, warming: 0, draining: 0,
                upServers: 1)
        }
        let svg = SVGChart.render(samples: samples, stepStart: 10, stepEnd: 25, title: "a <test> & more")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("a &lt;test&gt; &amp; more"))
        #expect(SVGChart.niceCeiling(73) == 100 && SVGChart.niceCeiling(18) == 20 && SVGChart.niceCeiling(5) == 5)
    }

    @Test func haproxyAcceptsTheGeneratedConfig() async throws {
        let haproxy = try #require(findExecutable("haproxy"), "bash Deploy/setup.sh installs haproxy")
        let scratch = try Scratch(prefix: "flock-demo-tests")
        let directory = scratch.dir.path
        let text = DemoHAProxy.config(
            socket: "\(directory)/admin.sock", frontendPort: 18080, requestLogPort: 18082, parentName: "web-parent",
            parentPort: 18081)
        #expect(text.contains("balance roundrobin") && text.contains("option httpchk GET /healthz"))
        #expect(text.contains("log 127.0.0.1:18082 len 1024 format raw local0"))
        #expect(text.contains("level admin") && text.contains("server web-parent 127.0.0.1:18081 check"))
        try text.write(toFile: "\(directory)/haproxy.cfg", atomically: true, encoding: .utf8)
        let run = try await Child.run(
            URL(fileURLWithPath: haproxy), ["-c", "-f", "\(directory)/haproxy.cfg"], in: scratch)
        #expect(run.status == 0, "\(run)")
    }

    @Test func flockdAcceptsTheGeneratedConfigAndPolicy() async throws {
        let flockd = try #require(BuiltBinary.url("flockd"), "swift build --build-tests builds flockd")
        let scratch = try Scratch(prefix: "flock-demo-tests")
        let directory = scratch.dir.path
        var policy = DemoPolicy()
        policy.mode = .eager
        policy.latencyTargetMs = 100  // the latency check bench scale-out adds must be a valid policy too
        #expect(policy.yaml.contains("threshold: { above: 100, add: 1 }"))
        let daemon = try DemoFlockd(
            settings: .init(
                directory: directory, haproxySocket: "\(directory)/admin.sock", qemuStateRoot: "\(directory)/qemu",
                policy: policy, binary: flockd.path))
        #expect(daemon.token.count == 32)
        #expect(
            try String(contentsOfFile: daemon.configPath, encoding: .utf8).contains("listen: 127.0.0.1:\(daemon.port)"))
        let run = try await Child.run(flockd, ["--check-config", daemon.configPath], in: scratch)
        #expect(run.status == 0, "\(run)")
    }

    @Test func theRequestLogReadsHAProxysLinesAndNothingElse() throws {
        let now = ContinuousClock.now
        #expect(
            RequestLog.parse("flock-request 12 200", at: now) == RequestLog.Entry(at: now, activeMs: 12, status: 200))
        #expect(RequestLog.parse("flock-request 30001 -1\n", at: now)?.status == -1)
        #expect(RequestLog.parse("Proxy web started.", at: now) == nil)
        #expect(RequestLog.parse("flock-request twelve 200", at: now) == nil)
        #expect(RequestLog.logFormat.hasPrefix("flock-request %Ta %ST"))
    }

    @Test func theRequestLogReceivesDatagramsOnLoopback() async throws {
        let log = try RequestLog()
        defer { log.stop() }
        let before = ContinuousClock.now
        let (fd, _) = try bindLoopback(type: SOCK_DGRAM)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(log.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        for line in ["flock-request 5 200", "not a request", "flock-request 250 503"] {
            let sent = line.withCString { text in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, text, strlen(text), 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            #expect(sent == line.utf8.count)
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while log.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let entries = log.entries(from: before, to: .now)
        #expect(entries.map(\.status) == [200, 503])
        #expect(entries.map(\.activeMs) == [5, 250])
    }

    @Test func latencyRecoveryIsWhenTheP99StaysUnderTheTargetForTheRestOfTheStep() {
        func samples(_ p99: [Double?]) -> [DemoSample] {
            p99.enumerated().map {
                DemoSample(
                    t: Double($0.offset), requestRate: 10, serving: 1, warming: 0, draining: 0, upServers: 1,
                    p99Ms: $0.element)
            }
        }
        // Step from t=2 to t=8; above 100 ms at t=3...5 and once more at t=6, under from t=7.
        let run = samples([10, 10, 10, 300, 250, nil, 120, 40, 30, 500])
        let result = DemoSummary.latencyRecovery(samples: run, stepStart: 2, stepEnd: 8, target: 100)
        #expect(result.peak == 300 && result.recovery == 5)
        let calm = DemoSummary.latencyRecovery(
            samples: samples([10, 20, 30, 40]), stepStart: 1, stepEnd: 3, target: 100)
        #expect(calm.peak == 40 && calm.recovery == 0)
        let never = DemoSummary.latencyRecovery(
            samples: samples([10, 200, 300, 400]), stepStart: 0, stepEnd: 3, target: 100)
        #expect(never.peak == 400 && never.recovery == nil)
        #expect(DemoSummary.latencyRecovery(samples: run, stepStart: 2, stepEnd: 8, target: nil).recovery == nil)
    }

    @Test func theComparisonChartDrawsEveryModeAndTheTarget() {
        let runs = ["cold", "lazy"].map { label in
            (
                label: label,
                samples: (0..<20).map {
                    DemoSample(
                        t: Double($0), requestRate: 50, serving: $0 < 8 ? 1 : 3, warming: 0, draining: 0,
                        upServers: 1, p99Ms: $0 < 8 ? 400 : 30)
                }
            )
        }
        let svg = SVGChart.renderComparison(runs: runs, stepStart: 5, stepEnd: 15, targetMs: 100, title: "modes")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        // Per mode a p99 line and a serving staircase, plus the target line.
        #expect(svg.components(separatedBy: "<polyline").count == 6)
        #expect(svg.contains("cold: p99 latency") && svg.contains("lazy: serving instances"))
        #expect(svg.contains("target 100 ms"))
    }

    @Test func throughputChartColoursCurvesBySeriesWithoutAStepOrServingAxis() {
        let curves: [(label: String, series: String, perSecond: [Int])] = [
            ("cold, round 1", "cold", [0, 0, 10, 60, 100]), ("lazy, round 1", "lazy", [90, 100]),
            ("cold, round 2", "cold", [0, 20, 100]),
        ]
        let svg = SVGChart.renderThroughput(curves: curves, peak: 100, threshold: 90, title: "peak <1>")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n") && svg.contains("peak &lt;1&gt;"))
        // Three curves and the parent's and the threshold's lines.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 5)
        // Both cold rounds share the first colour; the legend names each series once.
        #expect(svg.components(separatedBy: "stroke=\"\(SVGChart.palette[0])\" stroke-width=\"1.5\"").count - 1 == 2)
        #expect(svg.components(separatedBy: ">cold<").count - 1 == 1 && svg.contains(">lazy<"))
        #expect(svg.contains("warm parent 100/s") && svg.contains("at peak: 90/s"))
        #expect(!svg.contains("load step") && !svg.contains("serving instances"))
    }
}
