import FlockCLI
import Foundation

/// What `bench controller` measured, as a table and as the documented JSON.
public struct BenchControllerResult {
    var pools: Int
    var backends: Int
    var rounds: Int
    /// Every pool tick, in milliseconds.
    var tickMs: [Double]
    /// Every round (all pools ticked one after another), in milliseconds.
    var roundMs: [Double]
    var tickSampleWrites: Int
    var tickSeconds: Double
    var rssMiB: Double
    var peakMiB: Double
    var fill: BenchFleet.Fill
    var storeMiB: Double
    var machine: String
    var simulate: String
    var retention: String

    /// Samples stored per second of store time in the batched append (one transaction per
    /// interval for every pool): what the store sustains for the daemon.
    var sampleWritesPerSecond: Double { fill.seconds > 0 ? Double(fill.samples) / fill.seconds : 0 }

    /// Samples stored per second of tick time, where each pool's tick commits its own.
    var tickSampleWritesPerSecond: Double { tickSeconds > 0 ? Double(tickSampleWrites) / tickSeconds : 0 }

    public func table() -> String {
        let rows = [
            ["FIGURE", "VALUE"],
            ["pools / backends", "\(pools) / \(backends)"],
            ["ticks", "\(tickMs.count) (\(rounds) round(s))"],
            ["tick p50 / p99", String(format: "%.2f / %.2f ms", p(tickMs, 50), p(tickMs, 99))],
            ["round (all pools) p50 / max", String(format: "%.0f / %.0f ms", p(roundMs, 50), roundMs.max() ?? 0)],
            ["RSS / peak", String(format: "%.1f / %.1f MiB", rssMiB, peakMiB)],
            ["sample writes/s (batched)", String(format: "%.0f", sampleWritesPerSecond)],
            ["sample writes/s (in ticks)", String(format: "%.0f", tickSampleWritesPerSecond)],
            ["store after \(simulate), retention \(retention)", String(format: "%.1f MiB", storeMiB)],
        ]
        return "bench controller: \(machine)\n" + FlockCLI.table(rows)
    }

    public func json() -> [String: Any] {
        [
            "tick_ms": ["p50": r(p(tickMs, 50)), "p99": r(p(tickMs, 99)), "max": r(tickMs.max() ?? 0)],
            "rss_mb": r(rssMiB),
            "sample_writes_per_s": r(sampleWritesPerSecond),
            "store_mb": r(storeMiB),
            // Extras.
            "round_ms": ["p50": r(p(roundMs, 50)), "max": r(roundMs.max() ?? 0)],
            "peak_rss_mb": r(peakMiB),
            "tick_sample_writes_per_s": r(tickSampleWritesPerSecond),
            "pools": pools, "backends": backends, "rounds": rounds, "ticks": tickMs.count,
            "simulated": simulate, "retention": retention, "samples_simulated": fill.samples, "machine": machine,
        ]
    }

    private func p(_ values: [Double], _ percentile: Double) -> Double { BenchMath.percentile(values, percentile) }
    private func r(_ value: Double) -> Double { BenchMath.round2(value) }
}
