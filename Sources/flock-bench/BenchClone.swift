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

    @Option(name: .long, help: ArgumentHelp("Guest memory, e.g. 512M or 1G.", valueName: "size"))
    var memory = "512M"

    @Option(name: .long, help: "Rounds; each runs every mode once, in a rotating order.")
    var rounds = 1

    @Option(name: .long, help: "Keys the parent warms before cloning.")
    var keys = 3

    @Option(name: .long, help: "CPU a cache miss costs in the guest (flock.miss_cost_ms), so a cold cache shows.")
    var missCostMs = 200

    @Option(name: .long, help: ArgumentHelp("The parent's VM spec.", valueName: "spec"))
    var spec = "Deploy/guest/parent.yaml"

    @Option(name: .long, help: "Override the spec's accelerator: kvm, tcg or auto.")
    var accelerator: Accelerator?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "State directory (tmpfs); default: a new directory under /dev/shm, deleted at the end.",
            valueName: "dir"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("Write the results as JSON to this file.", valueName: "file"))
    var json: String?

    @Option(
        name: .long,
        help:
            "How lazy snapshots freeze the parent's RAM: copy (pause while copying) or template (live-migrate into a template VM: shorter pause)."
    )
    var lazyFreeze: LazyFreeze = .copyWhilePaused

    @Flag(
        name: .long, help: "Print the driver's log (pauses, per-clone ready times), stamped, to find where time goes.")
    var verbose = false

    func validate() throws {
        guard (1...32).contains(count) else { throw ValidationError("--count must be 1...32") }
        guard (1...20).contains(rounds) else { throw ValidationError("--rounds must be 1...20") }
        guard (1...50).contains(keys) else { throw ValidationError("--keys must be 1...50") }
        guard (1...60000).contains(missCostMs) else { throw ValidationError("--miss-cost-ms must be 1...60000") }
        guard memoryMiB != nil else { throw ValidationError("--memory must look like 512M or 1G (64M...16G)") }
    }

    /// `512M`, `512MiB`, `1G`, or a bare number of MiB.
    var memoryMiB: Int? {
        let text = memory.uppercased().replacingOccurrences(of: "IB", with: "").replacingOccurrences(of: "B", with: "")
        let value: Int?
        if text.hasSuffix("G") {
            value = Int(text.dropLast()).map { $0 * 1024 }
        } else if text.hasSuffix("M") {
            value = Int(text.dropLast())
        } else {
            value = Int(text)
        }
        guard let value, (64...16384).contains(value) else { return nil }
        return value
    }

    func run() async throws {
        var parentSpec = try VMSpecFile.load(spec)
        parentSpec.name = "bench-parent"
        parentSpec.pool = "bench"
        parentSpec.memoryMiB = memoryMiB ?? parentSpec.memoryMiB
        parentSpec.append = Self.withMissCost(parentSpec.append, missCostMs)
        if let accelerator { parentSpec.accelerator = accelerator }

        let (root, ownRoot) = try Self.stateRoot(state)
        let verbose = verbose
        let origin = ContinuousClock.now
        let driver = QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: root, snapshotMaxAge: .zero, lazyFreeze: lazyFreeze,
                logger: LineLogHandler.logger(label: "flock-bench.clone") { line in
                    let stamp = String(format: "%9.3f", BenchMath.milliseconds(ContinuousClock.now - origin) / 1000)
                    if verbose || isatty(2) == 1 { printError("flock-bench: [\(stamp) s] \(line)") }
                }))
        let runner = BenchCloneRunner(
            driver: driver, spec: parentSpec, modes: modes.modes, count: count, rounds: rounds, keys: keys,
            progress: { if isatty(2) == 1 { printError("… \($0)") } })
        let outcome = await DemoSignals.runCancellable {
            try await runner.run()
        } interrupt: {
            BenchReaper.killAll(under: root, removeRoot: false)
        } cleanup: {
            await runner.cleanUp()
            BenchReaper.killAll(under: root, removeRoot: ownRoot)
        }
        let report: BenchCloneReport
        switch outcome {
        case .finished(let finished):
            report = finished
        case .interrupted(let signal):
            printError("flock-bench: interrupted; every VM the bench started was stopped")
            Foundation.exit(128 + signal.rawValue)
        case .failed(let error):
            throw CLIFailure("error: bench clone: \(error)")
        }

        print(report.table(), terminator: "")
        if let json {
            var object = report.json(memoryMiB: parentSpec.memoryMiB)
            object["miss_cost_ms"] = missCostMs
            object["lazy_freeze"] = lazyFreeze.rawValue
            object["command"] = BenchJSON.commandLine
            try BenchJSON.write(object, to: json)
        }
    }

    /// The kernel command line with `flock.miss_cost_ms` set to `cost` (replacing any value).
    static func withMissCost(_ append: String?, _ cost: Int) -> String {
        let words = (append ?? "").split(separator: " ").filter { !$0.hasPrefix("flock.miss_cost_ms=") }
        return (words.map(String.init) + ["flock.miss_cost_ms=\(cost)"]).joined(separator: " ")
    }

    /// The given directory, or a new private one on tmpfs (RAM files and snapshots must be in
    /// memory, or freezing a parent becomes disk I/O); the flag says whether the bench made it.
    static func stateRoot(_ given: String?) throws -> (String, Bool) {
        if let given { return (given, false) }
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array("\(base)/flock-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CLIFailure("error: cannot create a state directory under \(base)")
        }
        return (String(cString: made), true)
    }
}
