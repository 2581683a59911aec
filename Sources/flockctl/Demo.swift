import ArgumentParser
import FlockCLI
import FlockCore
import FlockDemo
import FlockQEMU
import Foundation

/// `flockctl demo`: the project's main job end to end, on one machine. It starts HAProxy with a
/// generated config, boots the warm parent and warms its cache, runs the built `flockd` with a
/// demo policy, drives a load step through HAProxy with `wrk`, shows what flockd does live, and
/// ends with a summary (and optionally JSON and an SVG chart). Everything it started is stopped
/// at the end, on failure, and on Ctrl-C or SIGTERM.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the autoscaling demo: HAProxy, a warm parent VM, flockd and a wrk load step (~1x → 4x → 1x).",
        discussion: """
            Needs haproxy, wrk and QEMU (bash Deploy/setup.sh), the guest image (bash Deploy/guest/build.sh, \
            or Deploy/guest/build-debian.sh for --guest debian) and the built flockd (swift build --product flockd). \
            Takes about three minutes under TCG (about five and a half on the Debian guest). \
            Exit 0 when clones served traffic, 1 when something failed (e.g. no clone ever served), 130 on Ctrl-C.
            """
    )

    @Option(
        help: ArgumentHelp(
            "Where configs, logs, the store and VM state go (default: a new directory under /dev/shm).",
            valueName: "dir"))
    var workdir: String?

    @Option(help: "How clones are made; cold boots are the baseline.")
    var mode = CloneMode.lazy

    @Option(help: ArgumentHelp("Also write the summary as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(
        help: ArgumentHelp(
            "Draw requests/s and serving instances over time as SVG to this file.", valueName: "file.svg"))
    var chart: String?

    @Flag(help: "Keep the work directory (logs, configs, the store) instead of removing it.")
    var keep = false

    @Option(help: "The guest image: busybox (quick) or debian (systemd, nginx's cache; build-debian.sh).")
    var guest = DemoGuest.busybox

    @Option(
        help: """
            How HAProxy reaches the VMs: bridge (a network namespace with a bridge, TAPs and a firewall; root) \
            or user (QEMU's user-mode networking, whose dropped connection bursts show as a p99 peak).
            """)
    var network = NetworkSpec.Mode.bridge

    @Option(
        help: ArgumentHelp(
            "Place the clones on this many namespace hosts (each a network namespace with its own sshd and VM bridge, reached over SSH as other machines would be; root, sshd); 0 keeps them on the parent's host.",
            valueName: "n"))
    var hosts = 0

    @Option(
        name: .customLong("parent-spec"),
        help: ArgumentHelp("The parent VM spec (default: the --guest image's).", valueName: "file"))
    var parentSpec: String?

    @Option(help: ArgumentHelp("The flockd binary (default: next to this flockctl, else in PATH).", valueName: "path"))
    var flockd: String?

    @Option(help: "Seconds of calm (~1x) load before the step.")
    var calm: Int = 20
    @Option(help: "Seconds of the step (~4x).")
    var step: Int = 60
    @Option(help: "Seconds of calm load after the step, while the pool scales in.")
    var tail: Int = 70

    @Option(
        name: .customLong("max"),
        help: "The pool's capacity max, the parent included (TCG VMs are slow: keep it small).")
    var maxCapacity: Int = 4

    func validate() throws {
        guard (2...8).contains(maxCapacity) else { throw ValidationError("--max must be 2...8") }
        guard (0...4).contains(hosts) else { throw ValidationError("--hosts must be 0...4") }
        guard calm >= 5, step >= 10, tail >= 10, calm + step + tail <= 900 else {
            throw ValidationError("--calm ≥ 5, --step ≥ 10, --tail ≥ 10 seconds, 15 minutes at most in all")
        }
        if let chart, !chart.hasSuffix(".svg") { throw ValidationError("--chart writes SVG: give a FILE.svg") }
    }

    func run() async throws {
        let view = DemoView(interactive: DemoView.isInteractive)
        var policy = DemoPolicy()
        policy.maxCapacity = maxCapacity
        policy.mode = mode
        let setup: DemoSetup.Setup
        do {
            setup = try DemoSetup.prepare(
                workdir: workdir, parentSpec: { try VMSpecFile.load(parentSpec ?? guest.spec) }, flockd: flockd,
                policy: policy, network: network, hosts: hosts)
        } catch let error as DemoError {
            throw CLIFailure("error: \(error)")
        }
        let plan = LoadPlan(calm: calm, step: step, tail: tail)
        let outcome = await DemoSignals.runCancellable {
            try await DemoSetup.execute(setup, plan: plan, json: json, chart: chart, view: view)
        } cleanup: {
            await DemoSetup.cleanUp(setup, keep: keep, view: view)
        }
        switch outcome {
        case .finished(let summary):
            if let failure = summary.failure { throw CLIFailure("demo: failed: \(failure)") }
        case .interrupted:
            printError("demo: interrupted; everything it started was stopped")
            Foundation.exit(130)
        case .failed(let error):
            throw CLIFailure("demo: failed: \(error)")
        }
    }
}

/// The images the demo knows, by the parent spec each one is booted from.
enum DemoGuest: String, CaseIterable, ExpressibleByArgument {
    case busybox, debian

    var spec: String {
        switch self {
        case .busybox: "Deploy/guest/parent.yaml"
        case .debian: "Deploy/guest/debian.yaml"
        }
    }
}
