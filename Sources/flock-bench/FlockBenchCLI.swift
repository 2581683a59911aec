import ArgumentParser
import FlockCLI

/// `flock-bench …`: the measurements behind Flock's claims (clones are warm sooner and cheaper
/// than cold boots; the controller keeps up with many pools), reproducible by anyone. Apart
/// from `flockctl`, so the operator CLI links neither the in-memory drivers nor the runners.
///
/// Exit codes as flockctl's: 0 success, 1 a failed run, 2 a usage error with a one-line hint;
/// 130 (or 143 for SIGTERM, clone) when interrupted.
@main
struct FlockBenchCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flock-bench",
        abstract:
            "Measure clone modes side by side, time to peak, the reaction to a load step, clones on other hosts, and the controller at scale.",
        subcommands: [BenchClone.self, BenchPeak.self, BenchScaleOut.self, BenchHosts.self, BenchController.self]
    )

    static func main() async { await runCommandLine() }
}
