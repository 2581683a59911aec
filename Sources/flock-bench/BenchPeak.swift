import ArgumentParser
import FlockBench
import FlockCLI
import FlockCore
import FlockDemo
import FlockQEMU
import Foundation

/// `flock-bench peak`: SnowFlock's headline, time to peak throughput, for a cold boot against a
/// lazy clone of a warm parent, on the Debian guest (nginx's proxy_cache in front of an origin
/// whose every miss costs CPU).
///
/// Both modes run in one process against one parent and take turns, the order rotating each
/// round, and each instance is measured alone and destroyed before the next, as in `bench
/// clone`: so they never share the two cores and a neighbour's load hits both alike.
struct BenchPeak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak",
        abstract: "Time a cold boot and a lazy clone to peak throughput under a paced request mix, side by side.",
        discussion: """
            Boots a parent from SPEC (default Deploy/guest/debian.yaml) in a private state directory, \
            warms --keys keys through its nginx cache, and measures its throughput under the mix: \
            --clients clients, each asking for a random key (seeded) every --interval-ms. Then, for \
            --rounds rounds, a cold boot and a lazy clone, each timed from the moment it is asked for: \
            time to its first 200 on /healthz, then the mix from then on, and time to peak, the first \
            moment after which every --window window, for at least --hold, served 90 % of the parent's \
            rate. Every VM it starts is stopped at the end, on error and on Ctrl-C.
            """)

    @Option(name: .long, help: "Rounds; each runs a cold boot and a lazy clone, in a rotating order.")
    var rounds = 3

    @Option(name: .long, help: "Objects in the mix, equally popular; the parent warms them all.")
    var keys = 300

    @Option(name: .long, help: "Clients of the mix, each paced at --interval-ms.")
    var clients = 4

    @Option(name: .customLong("interval-ms"), help: "Each client starts a request this often (ms).")
    var intervalMs = 40

    @Option(name: .long, help: ArgumentHelp("The sliding window throughput is measured over.", valueName: "duration"))
    var window = DurationArgument(.seconds(3))

    @Option(name: .long, help: ArgumentHelp("How long an instance must stay at peak to count.", valueName: "duration"))
    var hold = DurationArgument(.seconds(10))

    @Option(
        name: .long, help: ArgumentHelp("How long the warm parent's throughput is measured.", valueName: "duration"))
    var measure = DurationArgument(.seconds(15))

    @Option(
        name: .customLong("max-wait"),
        help: ArgumentHelp("An instance's limit, from its request to holding the peak.", valueName: "duration"))
    var maxWait = DurationArgument(.seconds(240))

    @Option(name: .long, help: ArgumentHelp("The parent's VM spec.", valueName: "spec"))
    var spec = "Deploy/guest/debian.yaml"

    @Option(
        name: .long, help: ArgumentHelp("Draw every instance's requests per second as SVG.", valueName: "file.svg"))
    var chart: String?

    @OptionGroup var vm: BenchVMOptions

    func validate() throws {
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1...20") }
        guard (1...10_000).contains(keys) else { throw ValidationError("--keys must be 1...10000") }
        guard (1...64).contains(clients) else { throw ValidationError("--clients must be 1...64") }
        guard (1...10_000).contains(intervalMs) else { throw ValidationError("--interval-ms must be 1...10000") }
        for (flag, value, range) in [
            ("--window", window, 1.0...60), ("--hold", hold, 0.0...600), ("--measure", measure, 2.0...600),
            ("--max-wait", maxWait, 10.0...1800),
        ] {
            guard range.contains(Self.seconds(value)) else {
                throw ValidationError(
                    "\(flag) must be a duration from \(Int(range.lowerBound))s to \(Int(range.upperBound))s, "
                        + "like 3s or 2m; got '\(value.text)'")
            }
        }
        if let chart, !chart.hasSuffix(".svg") { throw ValidationError("--chart writes SVG: give a FILE.svg") }
    }

    static func seconds(_ value: DurationArgument) -> Double { BenchMath.milliseconds(value.duration) / 1000 }

    func run() async throws {
        let parentSpec = try vm.parentSpec(spec)
        let (root, ownRoot) = try BenchVMRun.stateRoot(vm.state)
        // systemd under TCG boots in about 25 s, over a minute on a busy two-core host.
        let driver = BenchVMRun.driver(
            root: root, label: "flock-bench.peak", verbose: vm.verbose, bootTimeout: .seconds(300))
        let runner = BenchPeakRunner(
            driver: driver, spec: parentSpec,
            mix: BenchRequestMix(keys: keys, clients: clients, interval: .milliseconds(intervalMs)), rounds: rounds,
            window: Self.seconds(window), hold: Self.seconds(hold), measure: measure.duration,
            maxWait: maxWait.duration, progress: { if isatty(2) == 1 { printError("… \($0)") } })
        let report = try await BenchVMRun.run("peak", root: root, ownRoot: ownRoot) {
            try await runner.run()
        } cleanUp: {
            await runner.cleanUp()
        }

        print(report.table(), terminator: "")
        if let chart {
            let svg = SVGChart.renderThroughput(
                curves: report.curves.map { ($0.label, $0.mode, $0.perSecond) }, peak: report.peakRate,
                threshold: report.threshold,
                title: "flock-bench peak: requests served per second, cold boot vs lazy clone (\(rounds) rounds)")
            try svg.write(toFile: chart, atomically: true, encoding: .utf8)
        }
        if let json = vm.json {
            var object = report.json()
            object["miss_cost_ms"] = vm.missCostMs
            object["memory_mb"] = parentSpec.memoryMiB
            object["command"] = BenchJSON.commandLine
            try BenchJSON.write(object, to: json)
        }
    }
}
