import FlockCLI
import Foundation

extension BenchControllerResult {
    /// Ticks `pools` pools with `backends` serving backends over all of them `rounds` times on
    /// a fresh store in a temporary directory (removed afterwards), then writes `simulate` of
    /// samples with `retention` on. The durations' texts are reported as the operator wrote them.
    public static func measure(
        pools: Int, backends: Int, rounds: Int, simulate: DurationArgument, retention: DurationArgument
    ) async throws -> BenchControllerResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flock-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("flock.db").path
        let fleet: BenchFleet
        do {
            fleet = try await BenchFleet.make(
                path: path, pools: pools, backendsPerPool: backends / pools, retention: retention.duration)
        } catch {
            throw CLIFailure("error: bench controller: cannot set up the store: \(error)")
        }
        let ticks = await fleet.tickRounds(rounds)
        let ticked = BenchMemory.residentMiB()
        let hour = try fleet.fillSamples(for: simulate.duration)
        return BenchControllerResult(
            pools: pools, backends: pools * (backends / pools), rounds: rounds, tickMs: ticks.tickMs,
            roundMs: ticks.roundMs, tickSampleWrites: ticks.samplesWritten,
            tickSeconds: ticks.tickMs.reduce(0, +) / 1000,
            rssMiB: max(ticked, BenchMemory.residentMiB()), peakMiB: BenchMemory.peakMiB(), fill: hour,
            storeMiB: Double(BenchMemory.storeBytes(path)) / 1_048_576, machine: BenchMachine.describe(),
            simulate: simulate.text, retention: retention.text)
    }
}
