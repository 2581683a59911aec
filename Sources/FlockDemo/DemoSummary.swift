import FlockCore
import FlockStore
import Foundation

/// One second of the run, for the live view and the chart.
public struct DemoSample: Sendable, Hashable, Codable {
    /// Seconds since the load started.
    public var t: Double
    /// Requests per second through the backend (HAProxy's `stot` of `BACKEND`, differenced).
    public var requestRate: Double
    /// From flockd's pool view: serving (parent included), warming and draining instances.
    public var serving: Int
    public var warming: Int
    public var draining: Int
    /// Servers HAProxy reports UP in the backend.
    public var upServers: Int
    /// The 99th percentile of HAProxy's active time (`%Ta`) over the requests of the last
    /// `StatsSampler.latencyWindow`; nil when none were answered in it.
    public var p99Ms: Double? = nil
}

/// The demo's result: what the summary table prints and `--json` writes.
public struct DemoSummary: Sendable, Hashable, Codable {
    public struct Latency: Sendable, Hashable, Codable {
        public var p50: Double?
        public var max: Double?
    }

    /// From the first decision that scaled out (the threshold crossing as flockd saw it) to the
    /// first clone serving.
    public var reactionSeconds: Double?
    /// From the load step's start to that first scale-out decision.
    public var stepToDecisionSeconds: Double?
    /// Per clone, from its scale-out decision to serving (registered and UP in HAProxy).
    public var cloneToServing: Latency
    public var requestsTotal: Int
    /// Requests HAProxy sent to `flock-` servers (their `stot`).
    public var requestsByClones: Int
    /// wrk's socket errors and non-2xx/3xx responses.
    public var failedRequests: Int
    /// Responses HAProxy logged during the load step with a 5xx status: its own 502, 503 or 504
    /// when no server answered, or the app's. Not client aborts (status -1): wrk closes its
    /// connections mid-request when the step ends, and those are not the service failing.
    public var failedInStep: Int = 0
    /// The policy's latency target, when it has one (`DemoPolicy.latencyTargetMs`).
    public var latencyTargetMs: Double? = nil
    /// The highest p99 latency sampled during the step.
    public var p99PeakMs: Double? = nil
    /// From the step's start until the sampled p99 is back under the target for the rest of the
    /// step: 0 when it never went above, nil when it was still above at the step's end (or
    /// there is no target). Samples look back `StatsSampler.latencyWindow`, so this includes up
    /// to that much lag, the same for every clone mode.
    public var p99RecoverySeconds: Double? = nil
    /// The most instances serving at once, the parent included.
    public var maxServing: Int
    public var clonesServed: Int
    public var scaleOuts: Int
    public var scaleIns: Int
    public var mode: String
    public var durationSeconds: Double
    public var chart: String?

    enum CodingKeys: String, CodingKey {
        case reactionSeconds = "reaction_s"
        case stepToDecisionSeconds = "step_to_decision_s"
        case cloneToServing = "clone_to_serving_s"
        case requestsTotal = "requests_total"
        case requestsByClones = "requests_by_clones"
        case failedRequests = "failed_requests"
        case failedInStep = "failed_in_step"
        case latencyTargetMs = "latency_target_ms"
        case p99PeakMs = "p99_peak_ms"
        case p99RecoverySeconds = "p99_recovery_s"
        case maxServing = "max_serving"
        case clonesServed = "clones_served"
        case scaleOuts = "scale_outs"
        case scaleIns = "scale_ins"
        case mode
        case durationSeconds = "duration_s"
        case chart
    }

    /// Builds the summary from flockd's store (decision times and each clone's state history,
    /// at full precision), the load generator's report and the sampled timeline.
    public static func make(
        store: FlockStore, pool: String, since start: Date, plan: LoadPlan, wrk: WrkReport, failedInStep: Int,
        requestsByClones: Int, samples: [DemoSample], policy: DemoPolicy, duration: Double
    ) throws -> DemoSummary {
        let stepStart = start.addingTimeInterval(Double(plan.calm))
        let decisions = try store.decisions(pool: pool, since: start).filter { !$0.dryRun }
        let scaleOuts = decisions.filter { $0.action == .scaleOut }
        let firstScaleOut = scaleOuts.first { $0.time >= stepStart } ?? scaleOuts.first
        var servingTimes: [(time: Date, latency: Double)] = []
        for clone in try store.instances(pool: pool, includeGone: true)
        where clone.role == .clone && clone.createdAt >= start {
            guard let serving = try store.stateHistory(instance: clone.name).first(where: { $0.to == .serving })
            else { continue }
            servingTimes.append((serving.time, serving.time.timeIntervalSince(clone.createdAt)))
        }
        let latencies = servingTimes.map(\.latency).sorted()
        let firstServing = servingTimes.map(\.time).min()
        var reaction: Double?
        if let firstScaleOut, let firstServing { reaction = firstServing.timeIntervalSince(firstScaleOut.time) }
        let latency = latencyRecovery(
            samples: samples, stepStart: Double(plan.calm), stepEnd: Double(plan.calm + plan.step),
            target: policy.latencyTargetMs)
        return DemoSummary(
            reactionSeconds: reaction,
            stepToDecisionSeconds: firstScaleOut.map { $0.time.timeIntervalSince(stepStart) },
            cloneToServing: Latency(p50: percentile(latencies, 0.5), max: latencies.last),
            requestsTotal: wrk.requests, requestsByClones: requestsByClones, failedRequests: wrk.failed,
            failedInStep: failedInStep, latencyTargetMs: policy.latencyTargetMs, p99PeakMs: latency.peak,
            p99RecoverySeconds: latency.recovery,
            maxServing: max(1, samples.map(\.serving).max() ?? 1), clonesServed: latencies.count,
            scaleOuts: scaleOuts.count, scaleIns: decisions.filter { $0.action == .scaleIn }.count,
            mode: policy.mode.rawValue, durationSeconds: duration, chart: nil)
    }

    /// The step's p99 peak, and how long after the step's start the p99 was back under
    /// `target` for good (see `p99RecoverySeconds`).
    static func latencyRecovery(
        samples: [DemoSample], stepStart: Double, stepEnd: Double, target: Double?
    )
        -> (peak: Double?, recovery: Double?)
    {
        let step = samples.filter { $0.t > stepStart && $0.t <= stepEnd && $0.p99Ms != nil }
        let peak = step.compactMap(\.p99Ms).max()
        guard let target, !step.isEmpty else { return (peak, nil) }
        guard let lastAbove = step.lastIndex(where: { $0.p99Ms! > target }) else { return (peak, 0) }
        guard lastAbove + 1 < step.count else { return (peak, nil) }
        return (peak, step[lastAbove + 1].t - stepStart)
    }

    /// Nearest-rank percentile of sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank - 1, 0), sorted.count - 1)]
    }

    /// Why the run counts as failed, or nil when it showed the story: clones served traffic.
    public var failure: String? {
        if clonesServed == 0 { return "no clone ever served" }
        if requestsByClones == 0 { return "clones served but HAProxy sent them no requests" }
        return nil
    }

    /// The summary as an aligned two-column table.
    public var table: String {
        func seconds(_ value: Double?) -> String { value.map { String(format: "%.2f s", $0) } ?? "-" }
        let share =
            requestsTotal > 0 ? String(format: " (%.0f%%)", 100 * Double(requestsByClones) / Double(requestsTotal)) : ""
        let rows: [(String, String)] = [
            ("clone mode", mode),
            ("reaction (first scale-out decision → first clone serving)", seconds(reactionSeconds)),
            ("load step → first scale-out decision", seconds(stepToDecisionSeconds)),
            ("clone-to-serving p50", seconds(cloneToServing.p50)),
            ("clone-to-serving max", seconds(cloneToServing.max)),
            ("clones served", "\(clonesServed)"),
            ("scale-out / scale-in decisions", "\(scaleOuts) / \(scaleIns)"),
            ("requests total", "\(requestsTotal)"),
            ("requests served by clones", "\(requestsByClones)\(share)"),
            ("failed requests (during the step)", "\(failedRequests) (\(failedInStep))"),
            ("p99 peak during the step", peakText),
            ("p99 back under the target after the step's start", recoveryText),
            ("max serving (parent included)", "\(maxServing)"),
            ("chart", chart ?? "-"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    private var peakText: String { p99PeakMs.map { String(format: "%.0f ms", $0) } ?? "-" }

    private var recoveryText: String {
        guard let latencyTargetMs else { return "- (no latency target)" }
        let target = String(format: "%.0f ms", latencyTargetMs)
        guard let p99RecoverySeconds else { return "not within the step (target \(target))" }
        return String(format: "%.2f s", p99RecoverySeconds) + " (target \(target))"
    }

    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
