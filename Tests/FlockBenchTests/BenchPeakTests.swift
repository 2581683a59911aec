import FlockTestSupport
import Foundation
import Testing

/// The smallest real `flock-bench peak`: one round of a cold boot and a lazy clone of the Debian
/// guest built by `Deploy/guest/build-debian.sh`, under TCG, with a small mix. It checks the
/// JSON's shape, the chart, what nginx said and that nothing is left running, never how long
/// anything took.
@Suite(.serialized) struct BenchPeakTests {
    static var debianBuilt: Bool {
        ["vmlinuz", "initrd.img", "rootfs.qcow2"].allSatisfy {
            FileManager.default.fileExists(atPath: Repo.path(".build-guest/debian/\($0)"))
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func oneRoundWritesTheDocumentedSchemaAndAChart() async throws {
        try #require(Self.debianBuilt, "build the Debian guest first: bash Deploy/guest/build-debian.sh")
        let scratch = try Scratch(prefix: "flock-bench-test")
        let file = scratch.path("peak.json"), chart = scratch.path("peak.svg")
        let stateRoot = try Scratch(tmpfs: "bench-peak")
        let state = stateRoot.dir.path
        let result = try await BenchCLI.run(
            [
                "peak", "--rounds", "1", "--keys", "8", "--miss-cost-ms", "50", "--measure", "4s", "--window", "2s",
                "--hold", "3s", "--max-wait", "200s", "--accelerator", "tcg",
                "--spec", Repo.path("Deploy/guest/debian.yaml"), "--json", file, "--chart", chart, "--state", state,
            ], in: scratch)
        try #require(result.status == 0, "\(result)")
        #expect(result.stdout.contains("TIME_TO_PEAK"), "\(result)")

        let json = try BenchCLI.json(file)
        #expect(json["machine"] is String)
        #expect((json["command"] as? String)?.hasPrefix("flock-bench peak ") == true)
        #expect(number(json, "rounds") == 1)
        #expect(number(json, "miss_cost_ms") == 50)
        #expect(number(json["mix"] as? [String: Any], "keys") == 8)
        let peak = try #require(number(json, "peak_requests_per_s"))
        #expect(peak > 0)
        let parent = json["parent"] as? [String: Any]
        #expect(number(parent, "requests_failed") == 0)
        #expect((parent?["curve"] as? [Int])?.isEmpty == false)
        let modes = try #require(json["modes"] as? [String: Any])
        #expect(Set(modes.keys) == ["cold", "lazy"])
        for (name, value) in modes {
            let mode = try #require(value as? [String: Any], "\(name)")
            let first = try #require(number(mode, "time_to_first_200_s"), "\(name).time_to_first_200_s")
            let toPeak = try #require(number(mode, "time_to_peak_s"), "\(name) reached its peak")
            #expect(first > 0 && toPeak >= first, "\(name): first 200 at \(first) s, peak at \(toPeak) s")
            #expect(number(mode, "unreached_rounds") == 0)
            let curves = try #require(mode["curves"] as? [[Int]], "\(name).curves")
            #expect(curves.count == 1 && curves[0].count >= Int(toPeak), "\(name): a second per bin up to the peak")
            let inCurve = curves[0].reduce(0, +)
            #expect(inCurve > 0 && inCurve <= Int(number(mode, "requests_served") ?? 0), "\(name)")
            #expect((mode["time_to_peak_s_each"] as? [Any])?.count == 1)
        }
        // What the off-the-shelf cache said: the lazy clone inherited every key, the cold boot
        // had to ask the origin.
        let lazy = modes["lazy"] as? [String: Any], cold = modes["cold"] as? [String: Any]
        #expect(number(lazy, "cache_misses") == 0)
        #expect(try #require(number(cold, "cache_misses")) >= 1)
        let ratios = try #require(json["ratios"] as? [String: Any])
        #expect(try #require(number(ratios, "cold_vs_lazy_time_to_peak")) > 0)

        let svg = try String(contentsOfFile: chart, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("cold") && svg.contains("lazy"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 4, "two curves and the two grey lines")
        // Every VM the bench started is gone: no VM directory, no process naming the state root.
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "\(state)/vms")) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(BenchCloneTests.processes(mentioning: state).isEmpty)
    }
}
