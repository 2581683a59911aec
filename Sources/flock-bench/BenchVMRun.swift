import ArgumentParser
import FlockBench
import FlockCLI
import FlockCore
import FlockDemo
import FlockQEMU
import Foundation

/// What the benches that boot VMs themselves (`clone`, `peak`) share: a driver on a private
/// tmpfs state root with a stamped log, and a run that stops every VM at the end, on error and
/// on Ctrl-C or SIGTERM.
enum BenchVMRun {
    /// A driver whose log lines are stamped with the seconds since the bench began, printed
    /// with `--verbose` or when stderr is a terminal. `networkNamespace` holds the VMs' bridge
    /// (bridge networking); `snapshotMaxAge` above zero lets clones reuse a snapshot.
    static func driver(
        root: String, label: String, verbose: Bool, lazyFreeze: LazyFreeze = .copyWhilePaused,
        bootTimeout: Duration = .seconds(120), warmStandbys: Bool = false, networkNamespace: String? = nil,
        snapshotMaxAge: Duration = .zero
    ) -> QEMUDriver {
        let origin = ContinuousClock.now
        return QEMUDriver(
            configuration: QEMUDriverConfiguration(
                stateRoot: root, snapshotMaxAge: snapshotMaxAge, bootTimeout: bootTimeout, lazyFreeze: lazyFreeze,
                networkNamespace: networkNamespace, warmStandbys: warmStandbys,
                logger: LineLogHandler.logger(label: label) { line in
                    let stamp = String(format: "%9.3f", BenchMath.milliseconds(ContinuousClock.now - origin) / 1000)
                    if verbose || isatty(2) == 1 { printError("flock-bench: [\(stamp) s] \(line)") }
                }))
    }

    /// Runs `body`, then `cleanUp` and the reaper over `root` (deleted if the bench made it);
    /// on a signal, exits 128 + its number once every VM is stopped; a failure is rethrown as
    /// `error: bench NAME: …`.
    static func run<Report: Sendable>(
        _ name: String, root: String, ownRoot: Bool, _ body: @escaping @Sendable () async throws -> Report,
        cleanUp: @escaping @Sendable () async -> Void
    ) async throws -> Report {
        let outcome = await DemoSignals.runCancellable {
            try await body()
        } interrupt: {
            BenchReaper.killAll(under: root, removeRoot: false)
        } cleanup: {
            await cleanUp()
            BenchReaper.killAll(under: root, removeRoot: ownRoot)
        }
        switch outcome {
        case .finished(let report):
            return report
        case .interrupted(let signal):
            printError("flock-bench: interrupted; every VM the bench started was stopped")
            Foundation.exit(128 + signal.rawValue)
        case .failed(let error):
            throw CLIFailure("error: bench \(name): \(error)")
        }
    }

    /// `512M`, `512MiB`, `1G`, or a bare number of MiB (64M...16G).
    static func mebibytes(_ memory: String) -> Int? {
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

/// The options of the benches that boot their own parent (`clone`, `peak`), with the same
/// meaning in both.
struct BenchVMOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Guest memory, e.g. 512M or 1G.", valueName: "size"))
    var memory = "512M"

    @Option(name: .long, help: "CPU a cache miss costs in the guest (flock.miss_cost_ms), so a cold cache shows.")
    var missCostMs = 200

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

    @Flag(
        name: .long, help: "Print the driver's log (pauses, per-clone ready times), stamped, to find where time goes.")
    var verbose = false

    func validate() throws {
        guard (1...60000).contains(missCostMs) else { throw ValidationError("--miss-cost-ms must be 1...60000") }
        guard BenchVMRun.mebibytes(memory) != nil else {
            throw ValidationError("--memory must look like 512M or 1G (64M...16G)")
        }
    }

    /// The parent's spec from the file at `path`, named for the bench (`bench-parent` in pool
    /// `bench`), with the memory, the miss cost and the accelerator given here.
    func parentSpec(_ path: String) throws -> VMSpec {
        var spec = try VMSpecFile.load(path)
        spec.name = "bench-parent"
        spec.pool = "bench"
        spec.memoryMiB = BenchVMRun.mebibytes(memory) ?? spec.memoryMiB
        spec.append = BenchVMRun.withMissCost(spec.append, missCostMs)
        if let accelerator { spec.accelerator = accelerator }
        return spec
    }
}
