import FlockCLI
import FlockCore
import FlockDemo
import Foundation

/// The runs of `bench scale-out`, by mode, and what the table and the JSON make of them.
public struct BenchScaleOutReport {
    let modes: [CloneMode]
    private(set) var runs: [CloneMode: [LoadStepRun.Result]] = [:]

    public init(modes: [CloneMode]) { self.modes = modes }

    public mutating func add(_ result: LoadStepRun.Result, mode: CloneMode) { runs[mode, default: []].append(result) }

    /// Each mode's first run, for the chart: one line per mode keeps it readable.
    public var firstRuns: [(label: String, samples: [DemoSample])] {
        modes.compactMap { mode in runs[mode]?.first.map { (mode.rawValue, $0.samples) } }
    }

    /// One mode's figures over its rounds: medians of the times, the worst peak, sums of failures.
    struct Figures {
        var reaction: Double?
        var recovery: Double?
        /// Rounds whose p99 was still above the target when the step ended.
        var unrecovered: Int
        var peak: Double?
        var clonesServing: Double?
        var failed: Int
        var failedInStep: Int
        var requests: Int
        var maxServing: Int
    }

    func figures(_ mode: CloneMode) -> Figures? {
        guard let summaries = runs[mode]?.map(\.summary), !summaries.isEmpty else { return nil }
        return Figures(
            reaction: BenchMath.medianIfAny(summaries.compactMap(\.reactionSeconds)),
            recovery: BenchMath.medianIfAny(summaries.compactMap(\.p99RecoverySeconds)),
            unrecovered: summaries.filter { $0.latencyTargetMs != nil && $0.p99RecoverySeconds == nil }.count,
            peak: summaries.compactMap(\.p99PeakMs).max(),
            clonesServing: BenchMath.medianIfAny(summaries.compactMap(\.cloneToServing.p50)),
            failed: summaries.map(\.failedRequests).reduce(0, +),
            failedInStep: summaries.map(\.failedInStep).reduce(0, +),
            requests: summaries.map(\.requestsTotal).reduce(0, +),
            maxServing: summaries.map(\.maxServing).max() ?? 1)
    }

    public func table(latencyTargetMs: Double?) -> String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "-" }
        let target = latencyTargetMs.map { String(format: "%.0f ms", $0) } ?? "-"
        var rows: [[String]] = [
            [
                "MODE", "DECISION_TO_FIRST_SERVING", "CLONE_TO_SERVING_P50",
                "P99_UNDER_\(target.replacingOccurrences(of: " ", with: ""))",
                "P99_PEAK", "FAILED(IN_STEP)", "REQUESTS", "MAX_SERVING",
            ]
        ]
        for mode in modes {
            guard let f = figures(mode) else { continue }
            let recovery =
                f.unrecovered > 0 && f.recovery == nil
                ? "not in the step"
                : seconds(f.recovery)
                    + (f.unrecovered > 0 ? " (\(f.unrecovered) not)" : "")
            rows.append([
                mode.rawValue, seconds(f.reaction), seconds(f.clonesServing), recovery,
                f.peak.map { String(format: "%.0f ms", $0) } ?? "-", "\(f.failed) (\(f.failedInStep))",
                "\(f.requests)", "\(f.maxServing)",
            ])
        }
        var text = FlockCLI.table(rows)
        for (name, value) in ratios() { text += "\(name): \(value.map { String(format: "%.3f", $0) } ?? "-")\n" }
        return text
    }

    /// Every other mode against `cold`, for the two times that matter.
    func ratios() -> [(String, Double?)] {
        guard let cold = figures(.cold) else { return [] }
        return modes.filter { $0 != .cold }.flatMap { mode -> [(String, Double?)] in
            let f = figures(mode)
            return [
                ("\(mode.rawValue)_vs_cold_first_serving", BenchMath.ratio(f?.reaction, cold.reaction)),
                ("\(mode.rawValue)_vs_cold_p99_recovery", BenchMath.ratio(f?.recovery, cold.recovery)),
            ]
        }
    }

    /// A run's summary with its timeline, one row a second: `[t, requests/s, p99 ms, serving]`.
    static func runJSON(_ result: LoadStepRun.Result) -> Any {
        var object = (try? JSONSerialization.jsonObject(with: result.summary.json)) as? [String: Any] ?? [:]
        object["timeline_columns"] = ["t_s", "requests_per_s", "p99_ms", "serving"]
        object["timeline"] = result.samples.map { sample -> [Any] in
            [
                BenchMath.round2(sample.t), BenchMath.round2(sample.requestRate),
                BenchJSON.orNull(sample.p99Ms.map(BenchMath.round2)), sample.serving,
            ]
        }
        return object
    }

    public func json() -> [String: Any] {
        var modesObject: [String: Any] = [:]
        for mode in modes {
            guard let f = figures(mode), let results = runs[mode] else { continue }
            modesObject[mode.rawValue] =
                [
                    "threshold_to_first_serving_s": BenchJSON.orNull(f.reaction),
                    "clone_to_serving_p50_s": BenchJSON.orNull(f.clonesServing),
                    "p99_recovery_s": BenchJSON.orNull(f.recovery),
                    "p99_unrecovered_rounds": f.unrecovered,
                    "p99_peak_ms": BenchJSON.orNull(f.peak),
                    "failed_requests": f.failed,
                    "failed_in_step": f.failedInStep,
                    "requests_total": f.requests,
                    "max_serving": f.maxServing,
                    "runs": results.map(Self.runJSON),
                ] as [String: Any]
        }
        var ratioObject: [String: Any] = [:]
        for (name, value) in ratios() { ratioObject[name] = BenchJSON.orNull(value) }
        return ["modes": modesObject, "ratios": ratioObject]
    }
}
