import FlockTestSupport
import Foundation
import Testing

/// `flock-bench controller` runs and writes the documented JSON; the figures are only checked
/// for sanity, never against time limits (benchmarks are not timed tests).
@Suite struct BenchControllerTests {
    @Test func smallFleetWritesTheDocumentedSchema() async throws {
        let scratch = try Scratch(prefix: "flock-bench-test")
        let file = scratch.path("controller.json")
        let result = try await BenchCLI.run(
            ["controller", "--pools", "5", "--backends", "20", "--rounds", "3", "--json", file], in: scratch)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.contains("tick p50 / p99"), "\(result)")

        let json = try BenchCLI.json(file)
        let tick = json["tick_ms"] as? [String: Any]
        let p50 = try #require(number(tick, "p50"))
        let p99 = try #require(number(tick, "p99"))
        #expect(p50 > 0 && p99 >= p50)
        let rss = try #require(number(json, "rss_mb"))
        #expect(rss > 1 && rss < 4096)
        #expect(try #require(number(json, "sample_writes_per_s")) > 0)
        #expect(try #require(number(json, "store_mb")) > 0)
        #expect(number(json, "pools") == 5)
        #expect(number(json, "backends") == 20)
        #expect(number(json, "ticks") == 15)
    }

    @Test func badSizesAreUsageErrors() async throws {
        let scratch = try Scratch(prefix: "flock-bench-test")
        let result = try await BenchCLI.run(
            ["controller", "--pools", "10", "--backends", "5"], in: scratch)
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("--backends"), "\(result)")
    }
}
