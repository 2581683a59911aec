import ArgumentParser
import FlockBench
import FlockCLI
import FlockCore
import FlockDemo
import FlockQEMU
import Foundation

/// `flock-bench scale-out`: the load step end to end, once per clone mode, side by side.
///
/// Each run is the demo's stack (HAProxy, a warm parent, the built flockd, wrk) with a policy
/// that has a latency target, and a parent whose app waits on a "backend" (`flock.workers`,
/// `flock.item_wait_ms`): one VM then has a fixed capacity, so a step of `--factor` × the calm
/// load pushes the p99 over the target until clones join, even on a 2-core host where
/// CPU-bound guests would only share the same cores. Modes take turns, the order rotating each
/// round, so a noisy neighbour hits them alike.
struct BenchScaleOut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale-out",
        abstract: "Run the load step per clone mode: reaction, p99 recovery and failed requests, side by side.",
        discussion: """
            Needs what the demo needs (haproxy, wrk, QEMU, the guest image, the built flockd). Each run \
            boots its own parent and stops everything it started, also on error and Ctrl-C. Measured per \
            mode: the time from the threshold crossing (flockd's first scale-out decision) to the first \
            clone serving, how long after the step's start HAProxy's p99 is back under the policy's \
            latency target, and failed requests (wrk's, and HAProxy's during the step).
            """)

    @Option(name: .long, help: "Comma-separated modes to compare: cold, eager, lazy.")
    var modes = CloneModes([.cold, .lazy])

    @Option(name: .long, help: "Rounds; each runs every mode once, in a rotating order.")
    var rounds = 1

    @Option(help: "Seconds of calm load before the step.")
    var calm = 20
    @Option(help: "Seconds of the step.")
    var step = 60
    @Option(help: "Seconds of calm load after the step.")
    var tail = 20

    @Option(name: .long, help: "wrk connections of the calm load, each paced at --delay-ms between requests.")
    var connections = 3
    @Option(name: .long, help: "The step's load as a multiple of the calm load.")
    var factor = 5
    @Option(name: .customLong("delay-ms"), help: "Each connection's pause after a response, in ms.")
    var delayMs = 100

    @Option(
        name: .long, help: "Workers of the guest app (flock.workers); with --item-wait-ms they set a VM's capacity.")
    var workers = 2
    @Option(name: .customLong("item-wait-ms"), help: "How long each request holds a worker (flock.item_wait_ms).")
    var itemWaitMs = 20

    @Option(name: .customLong("max"), help: "The pool's capacity max, the parent included.")
    var maxCapacity = 4
    @Option(name: .customLong("target-rate"), help: "The policy's target of requests/s per serving server.")
    var targetRate = 40.0
    @Option(
        name: .customLong("latency-target"),
        help: ArgumentHelp("The policy's p99 latency target, e.g. 50ms.", valueName: "duration"))
    var latencyTarget = DurationArgument(.milliseconds(100))

    @Option(name: .customLong("parent-spec"), help: ArgumentHelp("The parent VM spec.", valueName: "file"))
    var parentSpec = "Deploy/guest/parent.yaml"

    @Option(help: "How HAProxy reaches the VMs: bridge (a namespace with a bridge; root) or user (QEMU's slirp).")
    var network = NetworkSpec.Mode.bridge
    @Option(
        help: ArgumentHelp("The flockd binary (default: next to this flock-bench, else in PATH).", valueName: "path"))
    var flockd: String?

    @Option(name: .long, help: ArgumentHelp("Write the results as JSON to this file.", valueName: "file"))
    var json: String?
    @Option(
        name: .long,
        help: ArgumentHelp("Draw each mode's p99 and serving instances over time as SVG.", valueName: "file.svg"))
    var chart: String?

    func validate() throws {
        guard (1...10).contains(rounds) else { throw ValidationError("--rounds must be 1...10") }
        guard calm >= 5, step >= 10, tail >= 5, calm + step + tail <= 900 else {
            throw ValidationError("--calm ≥ 5, --step ≥ 10, --tail ≥ 5 seconds, 15 minutes at most in all")
        }
        guard (1...64).contains(connections), (2...16).contains(factor), connections * factor <= 512 else {
            throw ValidationError("--connections must be 1...64 and --factor 2...16 (512 connections at most)")
        }
        guard (1...5000).contains(delayMs) else { throw ValidationError("--delay-ms must be 1...5000") }
        guard (1...1024).contains(workers), (1...10_000).contains(itemWaitMs) else {
            throw ValidationError("--workers must be 1...1024 and --item-wait-ms 1...10000")
        }
        guard (2...8).contains(maxCapacity) else { throw ValidationError("--max must be 2...8") }
        guard targetRate > 0 else { throw ValidationError("--target-rate must be above 0") }
        guard latencyTarget.duration > .zero else {
            throw ValidationError("--latency-target must be a duration like 50ms or 1s; got '\(latencyTarget.text)'")
        }
        if let chart, !chart.hasSuffix(".svg") { throw ValidationError("--chart writes SVG: give a FILE.svg") }
    }

    var latencyTargetMs: Double { BenchMath.milliseconds(latencyTarget.duration) }

    var plan: LoadPlan {
        LoadPlan(
            calm: calm, step: step, tail: tail, baseConnections: connections, factor: factor,
            delayMilliseconds: delayMs)
    }

    func policy(_ mode: CloneMode) -> DemoPolicy {
        var policy = DemoPolicy()
        policy.mode = mode
        policy.maxCapacity = maxCapacity
        policy.targetRate = targetRate
        policy.latencyTargetMs = latencyTargetMs
        // Twice the app's workers per server: enough to keep them busy, and the rest of a burst
        // queues in HAProxy instead of opening new connections through QEMU's user-mode
        // networking, where bursts of new connections stalled for about 1 s (a SYN retransmit's
        // length; measured, cause not proven).
        policy.serverMaxconn = 2 * workers
        return policy
    }

    func run() async throws {
        let modes = modes.modes
        let loadAtStart = BenchMachine.loadAverage()
        var report = BenchScaleOutReport(modes: modes)
        for round in 0..<rounds {
            // Rotate the order each round, so no mode always runs first on a fresh machine.
            for index in modes.indices {
                let mode = modes[(index + round) % modes.count]
                // A view per run: its plain-output pacing starts again with each run's clock.
                let view = DemoView(interactive: DemoView.isInteractive)
                view.note("round \(round + 1) of \(rounds): \(mode.rawValue) clones")
                report.add(try await runOnce(mode, view: view), mode: mode)
            }
        }
        let machine = BenchMachine.describe(accelerator: "tcg", loadAtStart: loadAtStart)
        print("\n" + report.table(latencyTargetMs: latencyTargetMs), terminator: "")
        if let chart {
            let svg = SVGChart.renderComparison(
                runs: report.firstRuns, stepStart: Double(calm), stepEnd: Double(calm + step),
                targetMs: latencyTargetMs,
                title: "flock-bench scale-out: a ~\(factor)x load step, p99 and serving instances per mode")
            try svg.write(toFile: chart, atomically: true, encoding: .utf8)
        }
        if let json {
            var object = report.json()
            object["machine"] = machine
            object["command"] = BenchJSON.commandLine
            object["rounds"] = rounds
            object["latency_target_ms"] = latencyTargetMs
            object["plan"] = [
                "calm_s": calm, "step_s": step, "tail_s": tail, "connections": connections, "factor": factor,
                "delay_ms": delayMs,
            ]
            object["app"] = ["workers": workers, "item_wait_ms": itemWaitMs]
            object["policy"] = ["max": maxCapacity, "target_rate_per_server": targetRate]
            try BenchJSON.write(object, to: json)
        }
    }

    /// One mode's load step, with everything it started stopped afterwards.
    private func runOnce(_ mode: CloneMode, view: DemoView) async throws -> LoadStepRun.Result {
        let setup: DemoSetup.Setup
        do {
            setup = try DemoSetup.prepare(
                workdir: nil, parentSpec: { try VMSpecFile.load(parentSpec) }, flockd: flockd, policy: policy(mode),
                network: network, kernelArguments: ["flock.workers=\(workers)", "flock.item_wait_ms=\(itemWaitMs)"])
        } catch let error as DemoError {
            throw CLIFailure("error: \(error)")
        }
        let plan = plan
        let outcome = await DemoSignals.runCancellable {
            try await DemoSetup.runLoad(setup, plan: plan, view: view)
        } cleanup: {
            await DemoSetup.cleanUp(setup, keep: false, view: view)
        }
        switch outcome {
        case .finished(let result):
            return result
        case .interrupted:
            printError("bench scale-out: interrupted; everything it started was stopped")
            Foundation.exit(130)
        case .failed(let error):
            throw CLIFailure("error: bench scale-out (\(mode.rawValue)): \(error)")
        }
    }
}
