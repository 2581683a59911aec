import ArgumentParser
import FlockBench
import FlockCLI
import FlockCore
import FlockDemo
import FlockQEMU
import Foundation

/// `flock-bench clone`: cold boot, eager and lazy clones of one warm parent, and the activation
/// of standbys, side by side.
///
/// Every mode runs in one process against one parent booted from one image, and the modes take
/// turns (round-robin, the order rotating each round), so a neighbour's load hits them all
/// alike and the ratios hold even when absolute times drift. Each mode's batch is measured
/// alone and destroyed before the next starts, so batches never compete for the two cores.
struct BenchClone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone",
        abstract: "Time cold, eager and lazy clones of a warm parent, and standby activations, side by side.",
        discussion: """
            Boots a parent from SPEC (default Deploy/guest/parent.yaml) in a private state directory,
            warms --keys keys on it, then forks --count clones per mode, interleaved over --rounds,
            and reports the parent's pause, time to first HTTP 200, time to all serving, the first
            request for a warmed key, and PSS. Mode standby restores --count standbys first (one
            fresh snapshot: the parent's pause per refresh), reads their idle PSS, then activates
            them: its times run from the activation, the decision a scale-out would make. Every VM
            it starts is stopped at the end, on error and on Ctrl-C.
            """)

    @Option(name: .long, help: "Comma-separated modes to compare: cold, eager, lazy, standby.")
    var modes = ModeList<BenchCloneMode>([.cold, .eager, .lazy])

    @Option(name: .long, help: "Clones per mode in each batch (one parent pause per batch).")
    var count = 4

    @Option(name: .long, help: "Rounds; each runs every mode once, in a rotating order.")
    var rounds = 1

    @Option(name: .long, help: "Keys the parent warms before cloning.")
    var keys = 3

    @Option(name: .long, help: ArgumentHelp("The parent's VM spec.", valueName: "spec"))
    var spec = "Deploy/guest/parent.yaml"

    @Option(
        name: .long,
        help:
            "How lazy snapshots freeze the parent's RAM: copy (pause while copying) or template (live-migrate into a template VM: shorter pause)."
    )
    var lazyFreeze: LazyFreeze = .copyWhilePaused

    @Flag(
        name: .long,
        help: "Run each standby once through an identity before pausing it (the driver's warmStandbys).")
    var warmStandbys = false

    @OptionGroup var vm: BenchVMOptions

    func validate() throws {
        guard (1...32).contains(count) else { throw ValidationError("--count must be 1...32") }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1...20") }
        guard (1...50).contains(keys) else { throw ValidationError("--keys must be 1...50") }
    }

    func run() async throws {
        let parentSpec = try vm.parentSpec(spec)
        let (root, ownRoot) = try BenchVMRun.stateRoot(vm.state)
        let driver = BenchVMRun.driver(
            root: root, label: "flock-bench.clone", verbose: vm.verbose, lazyFreeze: lazyFreeze,
            warmStandbys: warmStandbys)
        let runner = BenchCloneRunner(
            driver: driver, spec: parentSpec, modes: modes.modes, count: count, rounds: rounds, keys: keys,
            progress: { if isatty(2) == 1 { printError("… \($0)") } })
        let report = try await BenchVMRun.run("clone", root: root, ownRoot: ownRoot) {
            try await runner.run()
        } cleanUp: {
            await runner.cleanUp()
        }

        print(report.table(), terminator: "")
        if let json = vm.json {
            var object = report.json(memoryMiB: parentSpec.memoryMiB)
            object["miss_cost_ms"] = vm.missCostMs
            object["lazy_freeze"] = lazyFreeze.rawValue
            object["warm_standbys"] = warmStandbys
            object["command"] = BenchJSON.commandLine
            try BenchJSON.write(object, to: json)
        }
    }
}
