import ArgumentParser
import FlockCLI
import FlockCore
import FlockPolicy
import FlockStore
import Foundation

/// `flockctl simulate`: backtest a candidate policy on recorded metrics before it goes live.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay recorded metrics through a policy and show what it would decide.",
        discussion: """
            The CSV header is time_s followed by backend metrics from the catalog (sessions, queue, \
            session_rate, response_time_ms, …). Per-server metrics are the totals divided by the simulated \
            serving count; new instances serve --clone-latency after the decision. Dry run is ignored. \
            The summary counts under-provisioned seconds (demand per serving instance above the target-value \
            check's band) and instance-seconds (serving plus warming), from --score-from on.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(help: ArgumentHelp("The candidate policy (YAML).", valueName: "file"))
    var policy: String

    @Option(help: ArgumentHelp("Recorded metrics (CSV).", valueName: "file"))
    var metrics: String?

    @Option(help: ArgumentHelp("Replay this pool's samples from the store instead of a CSV.", valueName: "name"))
    var pool: String?

    @Option(
        help: ArgumentHelp("With --pool: replay the samples of this long before now, e.g. 48h.", valueName: "duration"))
    var since = DurationArgument(.seconds(24 * 3600))

    @OptionGroup var store: StoreOptions

    @Option(help: "Serving instances at the start (default: the policy's capacity.min).")
    var startCount: Int?

    @Option(help: ArgumentHelp("Time from decision to serving, e.g. 500ms, 1s.", valueName: "duration"))
    var cloneLatency = DurationArgument(.seconds(1))

    @Option(help: "Output format: table or json (one object per line).")
    var format = Format.table

    @Option(
        help: ArgumentHelp(
            "Score only from this far into the trace, e.g. 24h (after the forecast's first season).",
            valueName: "duration"))
    var scoreFrom = DurationArgument(.zero)

    @Flag(help: "Also simulate the policy without its predictive block and show both summaries.")
    var comparePredictive = false

    func validate() throws {
        if let startCount, startCount < 1 {
            throw ValidationError("--start-count must be at least 1 (the parent always serves).")
        }
        if (metrics == nil) == (pool == nil) {
            throw ValidationError(
                "give exactly one of --metrics FILE (a CSV) and --pool NAME (the store's samples, with --since)")
        }
    }

    /// The recorded metrics, from the CSV or the store, and how to name them in messages.
    private func load() throws -> (series: Backtest.Series, source: String) {
        if let metrics { return (try MetricsCSV.load(file: metrics), metrics) }
        let pool = pool ?? ""
        guard let flock = try store.openExisting() else {
            throw CLIFailure("error: there is no store at \(store.path); nothing was simulated")
        }
        let samples = try flock.samples(pool: pool, since: Date().addingTimeInterval(-since.duration.seconds))
        guard !samples.isEmpty else {
            throw CLIFailure(
                "error: pool '\(pool)' has no samples in the last \(since.duration.flockText) in \(store.path); "
                    + "nothing was simulated")
        }
        return (Backtest.Series(samples: samples), "the store's record of pool '\(pool)'")
    }

    func run() async throws {
        let document = try loadPolicies([policy], failure: "; nothing was simulated")[0]
        let (series, source) = try load()
        let policy = document.policy
        let used = Set(policy.checks.map { $0.metric.perServerBase ?? $0.metric })
        let absent = used.subtracting(series.metrics).map(\.rawValue).sorted()
        if !absent.isEmpty {
            printError(
                "warning: \(source) has no column for \(absent.joined(separator: ", ")); those checks will hold")
        }
        let gaps = zip(series.rows.dropFirst(), series.rows).map { $0.time - $1.time }
        if let widest = gaps.max(), widest > policy.staleAfter.seconds {
            printError(
                "warning: rows are up to \(widest)s apart, but samples go stale after \(policy.staleAfter.flockText) "
                    + "(2 × evaluation_interval); checks will hold on stale data between rows"
            )
        }
        if policy.dryRun { printError("note: the policy has dry_run: true; simulating as if it were live") }
        if comparePredictive && policy.predictive == nil {
            throw CLIFailure(
                "error: --compare-predictive compares a policy with and without its predictive block, but "
                    + "\(self.policy) has none; nothing was simulated")
        }

        let backtest = Backtest(
            policy: policy, startCount: startCount ?? policy.capacity.min,
            cloneLatency: cloneLatency.duration, scoreFrom: scoreFrom.duration
        )
        var reactive = backtest
        reactive.policy.predictive = nil
        let baseline = comparePredictive ? reactive.run(series) { _ in } : nil
        var rows = [["TIME_S", "ACTION", "FROM", "TO", "REASON"]]
        let summary = backtest.run(series) { change in
            let d = change.decision
            switch format {
            case .json:
                let line = ChangeLine(
                    time_s: change.time, action: d.action.rawValue, from: d.from, to: d.to, reason: d.reason)
                print(jsonLine(line))
            case .table:
                rows.append([seconds(change.time), d.action.rawValue, "\(d.from)", "\(d.to)", d.reason])
            }
        }
        switch format {
        case .json:
            print(jsonLine(SummaryLine(summary: .init(summary), without_predictive: baseline.map(Counts.init))))
        case .table:
            print(table(rows), terminator: "")
            print(describe(summary))
            if let baseline { print("without predictive: " + describe(baseline)) }
        }
    }

    private func describe(_ summary: Backtest.Summary) -> String {
        let scored = scoreFrom.duration == .zero ? "" : " (scored from \(scoreFrom.duration.flockText))"
        return "\(summary.scaleOuts) scale-outs, \(summary.scaleIns) scale-ins; serving ranged "
            + "\(summary.minServing)…\(summary.maxServing); \(summary.underProvisionedSeconds) under-provisioned s, "
            + "\(summary.instanceSeconds) instance-s\(scored)"
    }

    private func jsonLine(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // These small structs of strings and numbers always encode.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private func seconds(_ t: Double) -> String {
        t == t.rounded() ? String(Int(t)) : String(format: "%.3f", t)
    }

    private struct ChangeLine: Encodable {
        var time_s: Double
        var action: String
        var from: Int
        var to: Int
        var reason: String
    }

    private struct Counts: Encodable {
        var scale_outs: Int
        var scale_ins: Int
        var max_serving: Int
        var min_serving: Int
        var under_provisioned_s: Int
        var instance_s: Int

        init(_ s: Backtest.Summary) {
            scale_outs = s.scaleOuts
            scale_ins = s.scaleIns
            max_serving = s.maxServing
            min_serving = s.minServing
            under_provisioned_s = s.underProvisionedSeconds
            instance_s = s.instanceSeconds
        }
    }

    private struct SummaryLine: Encodable {
        var summary: Counts
        /// Only with --compare-predictive; absent otherwise.
        var without_predictive: Counts?
    }
}
