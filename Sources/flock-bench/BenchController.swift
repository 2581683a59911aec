import ArgumentParser
import FlockController
import FlockCore
import FlockStore
import Foundation

/// `flockctl bench controller`: the decision loop at scale, with in-memory drivers (so only
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
    var simulate = "1h"

    @Option(name: .long, help: ArgumentHelp("The store's sample retention.", valueName: "duration"))
    var retention = "30m"

    @Option(name: .long, help: ArgumentHelp("Write the results as JSON to this file.", valueName: "file"))
    var json: String?

    func validate() throws {
        guard (1...100_000).contains(pools) else { throw ValidationError("--pools must be 1...100000") }
        guard backends >= pools, backends / pools <= 10_000 else {
            throw ValidationError(
                "--backends must be at least --pools (every pool has its parent) and at most 10000 per pool")
        }
        guard (1...1000).contains(rounds) else { throw ValidationError("--rounds must be 1...1000") }
        guard let span = Duration(flockText: simulate), span.seconds > 0 else {
            throw ValidationError("--simulate must be a duration such as 1h or 30m")
        }
        guard let kept = Duration(flockText: retention), kept.seconds > 0 else {
            throw ValidationError("--retention must be a duration such as 30m or 24h")
        }
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flock-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("flock.db").path
        let fleet: BenchFleet
        do {
            fleet = try await BenchFleet.make(
                path: path, pools: pools, backendsPerPool: backends / pools,
                retention: Duration(flockText: retention) ?? .seconds(1800))
        } catch {
            throw CLIFailure("error: bench controller: cannot set up the store: \(error)")
        }
        let ticks = await fleet.tickRounds(rounds)
        let ticked = BenchMemory.residentMiB()
        let hour = try fleet.fillSamples(for: Duration(flockText: simulate) ?? .seconds(3600))
        let result = BenchControllerResult(
            pools: pools, backends: pools * (backends / pools), rounds: rounds, tickMs: ticks.tickMs,
            roundMs: ticks.roundMs, tickSampleWrites: ticks.samplesWritten,
            tickSeconds: ticks.tickMs.reduce(0, +) / 1000,
            rssMiB: max(ticked, BenchMemory.residentMiB()), peakMiB: BenchMemory.peakMiB(), fill: hour,
            storeMiB: Double(BenchMemory.storeBytes(path)) / 1_048_576, machine: BenchMachine.describe(),
            simulate: simulate, retention: retention)
        print(result.table(), terminator: "")
        if let json {
            var object = result.json()
            object["command"] = (["flockctl"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            try BenchJSON.write(object, to: json)
        }
    }
}

/// This process's memory, from `/proc/self/status`.
enum BenchMemory {
    static func residentMiB() -> Double { field("VmRSS") }
    static func peakMiB() -> Double { field("VmHWM") }

    private static func field(_ name: String) -> Double {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
            let kib = line.split(separator: " ").compactMap({ Int($0) }).first
        else { return 0 }
        return Double(kib) / 1024
    }

    /// The database with its WAL: both are what the store costs on disk.
    static func storeBytes(_ path: String) -> Int {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }
}
