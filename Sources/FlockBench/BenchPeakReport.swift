import FlockCLI
import FlockCore
import Foundation

/// The results of `bench peak`, per mode over the rounds, as a table and the documented JSON.
///
/// Times are medians over the rounds; a round whose instance never held the peak before
/// `--max-wait` is left out of the median and counted in `unreached_rounds`.
public struct BenchPeakReport: Sendable {
    var machine: String
    var mix: BenchRequestMix
    var rounds: Int
    var criterion: BenchPeakCriterion
    var parent: PeakParentSample
    var samples: [PeakInstanceSample]

    struct ModeResult {
        var firstOK: Double
        var timeToPeak: Double?
        /// From the first 200 to the peak: what warming the caches took once the stack served.
        var warmUp: Double?
        var ready: Double
        /// The later of the peak and the driver's ready: at peak with its own identity.
        var peakAndReady: Double?
        var unreached: Int
        var misses: Int
        var served: Int
        var failed: Int
    }

    func result(_ mode: CloneMode) -> ModeResult? {
        let runs = samples.filter { $0.mode == mode }
        guard !runs.isEmpty else { return nil }
        let peaks = runs.compactMap(\.timeToPeak)
        return ModeResult(
            firstOK: BenchMath.median(runs.map(\.firstOK)), timeToPeak: BenchMath.medianIfAny(peaks),
            warmUp: BenchMath.medianIfAny(runs.compactMap { run in run.timeToPeak.map { $0 - run.firstOK } }),
            ready: BenchMath.median(runs.map(\.ready)),
            peakAndReady: BenchMath.medianIfAny(runs.compactMap { run in run.timeToPeak.map { max($0, run.ready) } }),
            unreached: runs.count - peaks.count, misses: runs.map(\.trace.misses).reduce(0, +),
            served: runs.map(\.trace.served.count).reduce(0, +), failed: runs.map(\.trace.failed).reduce(0, +))
    }

    var ratios: [String: Double?] {
        let cold = result(.cold), lazy = result(.lazy)
        return [
            "cold_vs_lazy_time_to_peak": BenchMath.ratio(cold?.timeToPeak, lazy?.timeToPeak),
            "cold_vs_lazy_time_to_first_200": BenchMath.ratio(cold?.firstOK, lazy?.firstOK),
            "cold_vs_lazy_time_to_peak_and_ready": BenchMath.ratio(cold?.peakAndReady, lazy?.peakAndReady),
        ]
    }

    /// Each mode's curve per round, for the chart.
    public var curves: [(label: String, mode: String, perSecond: [Int])] {
        samples.map { ("\($0.mode.rawValue), round \($0.round + 1)", $0.mode.rawValue, $0.curve) }
    }

    public var peakRate: Double { parent.rate }
    public var threshold: Double { criterion.fraction * parent.rate }

    public func table() -> String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f s", $0) } ?? "-" }
        var rows = [
            [
                "MODE", "FIRST_200", "TIME_TO_PEAK", "WARM_UP", "READY", "PEAK_AND_READY", "EACH_ROUND", "UNREACHED",
                "MISSES", "SERVED", "FAILED",
            ]
        ]
        for mode in BenchPeakRunner.modes {
            guard let r = result(mode) else { continue }
            let each = samples.filter { $0.mode == mode }.map { seconds($0.timeToPeak) }.joined(separator: ", ")
            rows.append([
                mode.rawValue, seconds(r.firstOK), seconds(r.timeToPeak), seconds(r.warmUp), seconds(r.ready),
                seconds(r.peakAndReady), each, "\(r.unreached)",
                "\(r.misses)",
                "\(r.served)", "\(r.failed)",
            ])
        }
        var text = String(
            format: "bench peak: %d round(s), %d keys, %d clients every %.0f ms (%.1f requests/s offered); %@\n",
            rounds, mix.keys, mix.clients, BenchMath.milliseconds(mix.interval), mix.offeredPerSecond, machine)
        text += String(
            format: "warm parent: booted in %.1f s, warmed in %.1f s, serves %.1f requests/s; peak = at least %.1f "
                + "in every %.0f s window\n", parent.bootSeconds, parent.warmSeconds, parent.rate, threshold,
            criterion.window)
        text += FlockCLI.table(rows)
        for (key, value) in ratios.sorted(by: { $0.key < $1.key }) {
            text += "\(key): \(value.map { String(format: "%.2f", $0) } ?? "-")\n"
        }
        return text
    }

    /// The schema documented in the README (issue 14, section 4), plus a few extra keys.
    public func json() -> [String: Any] {
        var modes: [String: Any] = [:]
        for mode in BenchPeakRunner.modes {
            guard let r = result(mode) else { continue }
            let runs = samples.filter { $0.mode == mode }
            modes[mode.rawValue] =
                [
                    "time_to_first_200_s": BenchMath.round2(r.firstOK),
                    "time_to_peak_s": BenchJSON.orNull(r.timeToPeak.map(BenchMath.round2)),
                    "first_200_to_peak_s": BenchJSON.orNull(r.warmUp.map(BenchMath.round2)),
                    "ready_s": BenchMath.round2(r.ready),
                    "time_to_peak_and_ready_s": BenchJSON.orNull(r.peakAndReady.map(BenchMath.round2)),
                    "time_to_first_200_s_each": runs.map { BenchMath.round2($0.firstOK) },
                    "time_to_peak_s_each": runs.map { BenchJSON.orNull($0.timeToPeak.map(BenchMath.round2)) },
                    "unreached_rounds": r.unreached,
                    "cache_misses": r.misses, "requests_served": r.served, "requests_failed": r.failed,
                    "curves": runs.map(\.curve),
                ] as [String: Any]
        }
        return [
            "machine": machine, "rounds": rounds, "modes": modes,
            "peak_requests_per_s": BenchMath.round2(parent.rate),
            "ratios": ratios.mapValues { BenchJSON.orNull($0) },
            "parent": [
                "boot_s": BenchMath.round2(parent.bootSeconds), "warm_s": BenchMath.round2(parent.warmSeconds),
                "requests_per_s": BenchMath.round2(parent.rate), "curve": parent.curve,
                "requests_failed": parent.trace.failed,
            ] as [String: Any],
            "mix": [
                "keys": mix.keys, "clients": mix.clients, "interval_ms": BenchMath.milliseconds(mix.interval),
                "offered_requests_per_s": BenchMath.round2(mix.offeredPerSecond),
            ],
            "peak": [
                "fraction": criterion.fraction, "window_s": criterion.window, "hold_s": criterion.hold,
                "step_s": criterion.step, "threshold_requests_per_s": BenchMath.round2(threshold),
            ],
            "curve_bin_s": 1,
        ]
    }
}
