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
        store: FlockStore, pool: String, since start: Date, stepStart: Date, wrk: WrkReport,
        requestsByClones: Int, samples: [DemoSample], mode: CloneMode, duration: Double
    ) throws -> DemoSummary {
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
        return DemoSummary(
            reactionSeconds: reaction,
            stepToDecisionSeconds: firstScaleOut.map { $0.time.timeIntervalSince(stepStart) },
            cloneToServing: Latency(p50: percentile(latencies, 0.5), max: latencies.last),
            requestsTotal: wrk.requests, requestsByClones: requestsByClones, failedRequests: wrk.failed,
            maxServing: max(1, samples.map(\.serving).max() ?? 1), clonesServed: latencies.count,
            scaleOuts: scaleOuts.count, scaleIns: decisions.filter { $0.action == .scaleIn }.count,
            mode: mode.rawValue, durationSeconds: duration, chart: nil)
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
            ("failed requests", "\(failedRequests)"),
            ("max serving (parent included)", "\(maxServing)"),
            ("chart", chart ?? "-"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    public var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
