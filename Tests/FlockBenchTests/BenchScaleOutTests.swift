import FlockTestSupport
import Foundation
import Testing

/// The smallest real `flock-bench scale-out`: a few seconds of load step per mode through a
/// real haproxy, a warm parent under TCG, the built flockd and wrk. It checks the JSON's shape,
/// the chart and what must hold whatever the timing (the load went through, clones joined,
/// nothing failed outright), never how long anything took.
@Suite(.serialized) struct BenchScaleOutTests {
    @Test(.timeLimit(.minutes(10)))
    func shortStepPerModeWritesTheDocumentedSchemaAndAChart() async throws {
        try #require(BenchCloneTests.imageBuilt, "build the guest image first: bash Deploy/guest/build.sh")
        let scratch = try Scratch(prefix: "flock-bench-test")
        let file = scratch.path("scale-out.json"), chart = scratch.path("scale-out.svg")
        let result = try await BenchCLI.run(
            [
                "scale-out", "--modes", "cold,lazy", "--calm", "5", "--step", "15", "--tail", "5",
                "--parent-spec", Repo.path("Deploy/guest/parent.yaml"), "--json", file, "--chart", chart,
            ], in: scratch)
        try #require(result.status == 0, "\(result)")
        #expect(result.stdout.contains("DECISION_TO_FIRST_SERVING"), "\(result)")

        let json = try BenchCLI.json(file)
        #expect(json["machine"] is String)
        #expect(number(json, "latency_target_ms") == 100)
        #expect(number(json["plan"] as? [String: Any], "step_s") == 15)
        let modes = try #require(json["modes"] as? [String: Any])
        #expect(Set(modes.keys) == ["cold", "lazy"])
        for (name, value) in modes {
            let mode = try #require(value as? [String: Any], "\(name)")
            for key in [
                "threshold_to_first_serving_s", "clone_to_serving_p50_s", "p99_recovery_s", "p99_peak_ms",
            ] {
                #expect(mode.keys.contains(key), "\(name).\(key)")
            }
            #expect(try #require(number(mode, "requests_total"), "\(name)") > 0)
            #expect(number(mode, "failed_requests") != nil && number(mode, "failed_in_step") != nil, "\(name)")
            let runs = try #require(mode["runs"] as? [[String: Any]], "\(name).runs")
            #expect(runs.count == 1)
            let timeline = try #require(runs.first?["timeline"] as? [[Any]], "\(name).timeline")
            #expect(timeline.count >= 20 && timeline.allSatisfy { $0.count == 4 }, "\(name)")
        }
        // The lazy clone serves within seconds, so even a 15 s step sees it join.
        #expect(try #require(number(modes["lazy"] as? [String: Any], "max_serving")) >= 2)
        let ratios = try #require(json["ratios"] as? [String: Any])
        #expect(ratios.keys.contains("lazy_vs_cold_first_serving") && ratios.keys.contains("lazy_vs_cold_p99_recovery"))

        let svg = try String(contentsOfFile: chart, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("cold: p99 latency") && svg.contains("lazy: p99 latency"))
    }

    @Test func badOptionsAreUsageErrors() async throws {
        let scratch = try Scratch(prefix: "flock-bench-test")
        for (arguments, mentions) in [
            (["--modes", "cold,warm"], "--modes"), (["--latency-target", "fast"], "--latency-target"),
            (["--chart", "out.png"], "SVG"), (["--step", "3"], "--step"),
        ] {
            let result = try await BenchCLI.run(["scale-out"] + arguments, in: scratch)
            #expect(result.status == 2, "\(arguments): \(result)")
            #expect(result.stderr.contains(mentions), "\(arguments): \(result)")
        }
    }
}
