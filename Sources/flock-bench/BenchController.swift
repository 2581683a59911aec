import ArgumentParser
import FlockBench
import FlockCLI
import Foundation

/// `flock-bench controller`: the decision loop at scale, with in-memory drivers (so only
/// Flock's own work is timed) and the real SQLite store in a temporary directory.
///
/// A tick is one pool's `PoolController.tick()`, the unit the daemon schedules and that
/// `flock_tick_seconds` reports: read metrics, store samples, read instances and the pool row,
/// decide, record the decision. Each round ticks every pool once, one after another, with the
/// simulated clock one evaluation interval on; the round's duration is reported too.
struct BenchController: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Time the controller's ticks at scale, with in-memory drivers and a real SQLite store.",
        discussion: """
            Sets up P pools with B/P serving backends each (the parent and B/P-1 clones), ticks every
            pool --rounds times, then writes --simulate of samples (every pool, every evaluation
            interval, in the store's batched append) with --retention on, and reports tick p50/p99,
            RSS, sample writes per second and the store's size.
            """)

    @Option(name: .long, help: "Pools.")
    var pools = 1000

    @Option(name: .long, help: "Serving backends over all pools (the parents included).")
    var backends = 10000

    @Option(name: .long, help: "Rounds of ticks; each ticks every pool once.")
    var rounds = 10

    @Option(name: .long, help: ArgumentHelp("Sample time to simulate after the ticks.", valueName: "duration"))
    var simulate = DurationArgument(.seconds(3600))

    @Option(name: .long, help: ArgumentHelp("The store's sample retention.", valueName: "duration"))
    var retention = DurationArgument(.seconds(1800))

    @Option(name: .long, help: ArgumentHelp("Write the results as JSON to this file.", valueName: "file"))
    var json: String?

    func validate() throws {
        guard (1...100_000).contains(pools) else { throw ValidationError("--pools must be 1...100000") }
        guard backends >= pools, backends / pools <= 10_000 else {
            throw ValidationError(
                "--backends must be at least --pools (every pool has its parent) and at most 10000 per pool")
        }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be 1...1000") }
        guard simulate.duration > .zero else {
            throw ValidationError("--simulate must be a duration such as 1h or 30m")
        }
        guard retention.duration > .zero else {
            throw ValidationError("--retention must be a duration such as 30m or 24h")
        }
    }

    func run() async throws {
        let result = try await BenchControllerResult.measure(
            pools: pools, backends: backends, rounds: rounds, simulate: simulate, retention: retention)
        print(result.table(), terminator: "")
        if let json {
            var object = result.json()
            object["command"] = BenchJSON.commandLine
            try BenchJSON.write(object, to: json)
        }
    }
}
