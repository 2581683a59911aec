import FlockCore
import FlockQEMU
import Foundation

/// One instance's run in `bench peak`: asked for, served its first 200, and served the mix.
struct PeakInstanceSample: Sendable {
    var mode: CloneMode
    var round: Int
    /// Seconds from the request for the instance to its first 200 on `/healthz`.
    var firstOK: Double
    /// Seconds from the request to the peak, or nil if it did not stay at peak in time.
    var timeToPeak: Double?
    /// Seconds from the request to the driver returning the instance: its agent applied the
    /// identity and ran the clone hooks, when Flock would register it with the balancer. A
    /// restored clone answers HTTP before that (as the parent it was), so `firstOK` can be earlier.
    var ready: Double
    var trace: BenchLoadTrace
    /// Requests served in each second since the request.
    var curve: [Int] { BenchPeakCriterion.curve(served: trace.served, end: trace.end) }
}

/// What the warm parent did before the rounds.
struct PeakParentSample: Sendable {
    /// From `startParent` to its return (the agent and the app answering).
    var bootSeconds: Double
    /// Replaying every key once through nginx, each a miss the origin computes.
    var warmSeconds: Double
    var trace: BenchLoadTrace
    /// Responses per second over the measurement: the peak every instance is held to.
    var rate: Double { trace.end > trace.start ? Double(trace.served.count) / (trace.end - trace.start) : 0 }
    /// Requests served in each second of the measurement.
    var curve: [Int] {
        BenchPeakCriterion.curve(served: trace.served.map { $0 - trace.start }, end: trace.end - trace.start)
    }
}

/// Drives one `bench peak` run: boots and warms the parent, measures its throughput under the
/// mix, then takes turns between a cold boot and a lazy clone, each alone on the host.
public final class BenchPeakRunner: Sendable {
    let driver: QEMUDriver
    let spec: VMSpec
    let mix: BenchRequestMix
    let rounds: Int
    let window: Double
    let hold: Double
    let measure: Duration
    let maxWait: Duration
    let progress: @Sendable (String) -> Void
    static let modes: [CloneMode] = [.cold, .lazy]

    public init(
        driver: QEMUDriver, spec: VMSpec, mix: BenchRequestMix, rounds: Int, window: Double, hold: Double,
        measure: Duration, maxWait: Duration, progress: @escaping @Sendable (String) -> Void
    ) {
        self.driver = driver
        self.spec = spec
        self.mix = mix
        self.rounds = rounds
        self.window = window
        self.hold = hold
        self.measure = measure
        self.maxWait = maxWait
        self.progress = progress
    }

    public func run() async throws -> BenchPeakReport {
        let loadAtStart = BenchMachine.loadAverage()
        progress("booting the parent (\(spec.memoryMiB) MiB); a TCG boot of systemd takes about half a minute")
        let parent = try await warmParent()
        progress(
            String(format: "the warm parent serves %.1f requests/s (%.1f offered)", parent.rate, mix.offeredPerSecond))
        guard parent.rate > 0, parent.trace.failed == 0, parent.trace.misses == 0 else {
            throw BenchHTTP.Failure(
                description: "the warm parent served \(parent.trace.served.count) requests, \(parent.trace.misses) "
                    + "cache misses and \(parent.trace.failed) failures under the mix: it is not a warm peak")
        }
        let criterion = BenchPeakCriterion(peak: parent.rate, window: window, hold: hold)
        var samples: [PeakInstanceSample] = []
        for round in 0..<rounds {
            // Rotate the order each round so neither mode always runs first.
            let order = round % 2 == 0 ? Self.modes : Self.modes.reversed()
            for mode in order {
                progress("round \(round + 1)/\(rounds): a \(mode.rawValue) instance")
                let sample = try await measureInstance(mode, round: round, criterion: criterion)
                let peak = sample.timeToPeak.map { String(format: "%.1f s", $0) } ?? "not reached"
                progress(
                    String(format: "  first 200 %.1f s, peak %@, %d misses", sample.firstOK, peak, sample.trace.misses))
                samples.append(sample)
            }
        }
        return BenchPeakReport(
            machine: BenchMachine.describe(accelerator: spec.accelerator.rawValue, loadAtStart: loadAtStart),
            mix: mix, rounds: rounds, criterion: criterion, parent: parent, samples: samples)
    }

    /// Boots the parent, requests every key once (with the mix's clients, so the warm-up is the
    /// origin's CPU, not the round trips), checks each is then a hit, and measures the mix.
    private func warmParent() async throws -> PeakParentSample {
        let asked = ContinuousClock.now
        let parent = try await driver.startParent(spec)
        let booted = ContinuousClock.now
        guard let host = parent.address, let port = parent.port else {
            throw BenchHTTP.Failure(description: "the parent has no forwarded HTTP port (use network mode user)")
        }
        progress("warming \(mix.keys) keys on the parent (each a miss the origin computes)")
        let paths = mix.paths
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<mix.clients {
                group.addTask { [mix] in
                    for path in stride(from: client, to: paths.count, by: mix.clients).map({ paths[$0] }) {
                        let response = try await BenchHTTP.get(host, port, path, timeout: .seconds(60))
                        guard response.status == 200 else {
                            throw BenchHTTP.Failure(description: "warming \(path): HTTP \(response.status)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let warmed = ContinuousClock.now
        for path in paths {
            let status = try await BenchHTTP.get(host, port, path, timeout: .seconds(60)).headers["x-cache-status"]
            guard status == "HIT" else {
                throw BenchHTTP.Failure(
                    description: "the parent's nginx did not cache \(path): \(status ?? "no status")")
            }
        }
        progress("measuring the warm parent under the mix for \(measure)")
        let origin = ContinuousClock.now
        let trace = await BenchPacedLoad(mix: mix).run(host, port, origin: origin, limit: measure)
        return PeakParentSample(
            bootSeconds: BenchMath.milliseconds(booted - asked) / 1000,
            warmSeconds: BenchMath.milliseconds(warmed - booted) / 1000, trace: trace)
    }

    /// One instance: asked for, polled to its first 200, then loaded with the mix until it has
    /// held the peak (or `maxWait` since the request), then destroyed.
    private func measureInstance(
        _ mode: CloneMode, round: Int, criterion: BenchPeakCriterion
    ) async throws -> PeakInstanceSample {
        let name = OwnedName.make(pool: spec.pool, suffix: "\(mode.rawValue)\(round)")
        let request = CloneRequest(pool: spec.pool, parent: spec.name, mode: mode, names: [name])
        let finished = BenchFlag()
        let asked = ContinuousClock.now
        let batchTask = Task { [driver] () throws -> (CloneBatch, Double) in
            defer { finished.set() }
            let batch = try await driver.cloneBatch(request)
            return (batch, BenchMath.milliseconds(ContinuousClock.now - asked) / 1000)
        }
        // A Ctrl-C cancels the run: the batch task is not a child, so it is cancelled by hand.
        return try await withTaskCancellationHandler {
            let first = await BenchFirstOK(stateRoot: driver.configuration.stateRoot)
                .wait(name, since: asked, startFinished: finished, limit: maxWait)
            guard let first else {
                let (batch, _) = try await batchTask.value
                let reasons = batch.failed.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
                throw BenchHTTP.Failure(
                    description: "the \(mode.rawValue) instance of round \(round + 1) never answered /healthz "
                        + "within \(maxWait)\(reasons.isEmpty ? "" : ": \(reasons)")")
            }
            let start = first.ms / 1000
            let trace = await BenchPacedLoad(mix: mix).run(first.host, first.port, origin: asked, limit: maxWait) {
                criterion.timeToPeak(served: $0.served, start: start, end: $0.end) != nil
            }
            let (batch, ready) = try await batchTask.value
            for vm in batch.started { try await driver.destroy(name: vm.name) }
            guard batch.failed.isEmpty else {
                throw BenchHTTP.Failure(
                    description: "the \(mode.rawValue) instance of round \(round + 1) served, but its start failed: "
                        + batch.failed.map { "\($0.key): \($0.value)" }.joined(separator: "; "))
            }
            return PeakInstanceSample(
                mode: mode, round: round, firstOK: start,
                timeToPeak: criterion.timeToPeak(served: trace.served, start: start, end: trace.end), ready: ready,
                trace: trace)
        } onCancel: {
            batchTask.cancel()
        }
    }

    /// Stops every instance and the parent; errors are ignored (the reaper kills what is left).
    public func cleanUp() async { await driver.stopEveryVM() }
}
