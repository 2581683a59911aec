import FlockCore
import FlockQEMU
import Foundation

/// What one batch of one mode measured.
struct CloneBatchSample: Sendable {
    var mode: CloneMode
    /// The parent's pause as the driver's snapshot step measured it; nil for cold (no pause).
    var pauseMs: Double?
    /// Per clone: from the clone request to its first HTTP 200 on `/healthz`.
    var firstOKMs: [Double]
    /// From the clone request to `cloneBatch` returning: every clone acknowledged its identity.
    var batchReadyMs: Double
    /// Per clone and warmed key: the latency of the first request for that key, and if it hit.
    var warmMs: [Double]
    var warmHits: Int
    /// The same requests once more: the clone's steady state, for telling a first-touch
    /// transient (page faults, TCG translating code afresh in a new QEMU) from a slow clone.
    var repeatMs: [Double]
    /// The parent's warmed-key requests made while this batch's clones run: the same host load
    /// as the clones' requests, so the ratio compares the VMs, not the moments.
    var parentMs: [Double]
    var pssMiB: [Double]
    /// What the batch costs the host: every clone's private pages plus the snapshot's files
    /// (tmpfs, so RAM), counted once however many clones map them.
    var hostMiB: Double
}

/// Drives one `bench clone` run: boots and warms the parent, then measures each mode's batch.
public final class BenchCloneRunner: Sendable {
    let driver: QEMUDriver
    let spec: VMSpec
    let modes: [CloneMode]
    let count: Int
    let rounds: Int
    let keys: [String]
    let progress: @Sendable (String) -> Void

    public init(
        driver: QEMUDriver, spec: VMSpec, modes: [CloneMode], count: Int, rounds: Int, keys: Int,
        progress: @escaping @Sendable (String) -> Void
    ) {
        self.driver = driver
        self.spec = spec
        self.modes = modes
        self.count = count
        self.rounds = rounds
        self.keys = (0..<keys).map { "bench-warm-\($0)" }
        self.progress = progress
    }

    public func run() async throws -> BenchCloneReport {
        let loadAtStart = BenchMachine.loadAverage()
        progress("booting the parent (\(spec.memoryMiB) MiB); a TCG boot takes a few seconds")
        let (parent, parentWarm) = try await bootWarmParent(spec)
        // An eager snapshot streams the parent's whole RAM, which allocates every hole of its
        // tmpfs RAM file; a lazy freeze of that parent then copies all of it (measured: 241 ms
        // instead of 73 ms at 512 MiB). So when both run, eager gets a parent of its own, warmed
        // alike, and the lazy pause stays what a lazy-only pool sees.
        var eagerParent = parent
        if modes.contains(.eager) && modes.contains(.lazy) {
            var eagerSpec = spec
            eagerSpec.name = spec.name + "-eager"
            progress("booting a second parent for eager clones")
            eagerParent = try await bootWarmParent(eagerSpec).0
        }
        var samples: [CloneBatchSample] = []
        for round in 0..<rounds {
            // Rotate the order each round so no mode always runs first (or right after another).
            let order = Array(modes[(round % modes.count)...] + modes[..<(round % modes.count)])
            for mode in order {
                progress("round \(round + 1)/\(rounds): \(count) \(mode.rawValue) clone(s)")
                samples.append(
                    try await measure(mode, round: round, parent: mode == .eager ? eagerParent : parent))
            }
        }
        return BenchCloneReport(
            machine: BenchMachine.describe(accelerator: parent.accelerator.rawValue, loadAtStart: loadAtStart),
            count: count, rounds: rounds,
            modes: modes, samples: samples, parentIdleMs: BenchMath.median(parentWarm))
    }

    /// Starts a parent, requests every key twice (the first computes and caches it), and
    /// returns it with the second requests' latencies: its warm latency before any clone.
    private func bootWarmParent(_ spec: VMSpec) async throws -> (VMRecord, [Double]) {
        let parent = try await driver.startParent(spec)
        guard let host = parent.address, let port = parent.port else {
            throw BenchHTTP.Failure(description: "the parent has no forwarded HTTP port (use network mode user)")
        }
        for key in keys { _ = try await BenchHTTP.get(host, port, "/item/\(key)", timeout: .seconds(60)) }
        var warm: [Double] = []
        for key in keys {
            let response = try await BenchHTTP.get(host, port, "/item/\(key)", timeout: .seconds(60))
            guard response.headers["x-cache"] == "hit" else {
                throw BenchHTTP.Failure(description: "parent \(spec.name) did not cache \(key)")
            }
            warm.append(response.milliseconds)
        }
        return (parent, warm)
    }

    /// One batch: clone, time each clone's first 200 while the batch runs, request the warmed
    /// keys, read memory, destroy.
    private func measure(_ mode: CloneMode, round: Int, parent: VMRecord) async throws -> CloneBatchSample {
        let names = (0..<count).map { OwnedName.make(pool: spec.pool, suffix: "\(mode.rawValue)\(round)n\($0)") }
        let request = CloneRequest(pool: spec.pool, parent: parent.name, mode: mode, names: names)
        let finished = BenchFlag()
        let probe = BenchFirstOK(stateRoot: driver.configuration.stateRoot)
        let started = ContinuousClock.now
        let batchTask = Task { [driver] () throws -> (CloneBatch, Double) in
            defer { finished.set() }
            let batch = try await driver.cloneBatch(request)
            return (batch, BenchMath.milliseconds(ContinuousClock.now - started))
        }
        let firsts = await withTaskGroup(of: Double?.self) { group in
            for name in names {
                group.addTask { await probe.wait(name, since: started, startFinished: finished)?.ms }
            }
            var values: [Double] = []
            for await value in group { if let value { values.append(value) } }
            return values
        }
        // A Ctrl-C cancels the run: the batch task is not a child, so it is cancelled by hand.
        let (batch, readyMs) = try await withTaskCancellationHandler {
            try await batchTask.value
        } onCancel: {
            batchTask.cancel()
        }
        // On a failure below, the caller's cleanUp() destroys this batch's clones.
        guard batch.failed.isEmpty, firsts.count == names.count else {
            let reasons = batch.failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            throw BenchHTTP.Failure(
                description: "\(mode.rawValue) batch: \(batch.started.count)/\(names.count) started, "
                    + "\(firsts.count) answered HTTP; \(reasons.joined(separator: "; "))")
        }
        var warm: [Double] = []
        var repeated: [Double] = []
        var hits = 0
        var parentMs: [Double] = []
        if let host = parent.address, let port = parent.port {
            for key in keys {
                parentMs.append(try await BenchHTTP.get(host, port, "/item/\(key)", timeout: .seconds(60)).milliseconds)
            }
        }
        for vm in batch.started {
            guard let host = vm.address, let port = vm.port else { continue }
            for key in keys {
                let response = try await BenchHTTP.get(host, port, "/item/\(key)", timeout: .seconds(60))
                warm.append(response.milliseconds)
                if response.headers["x-cache"] == "hit" { hits += 1 }
            }
            for key in keys {
                repeated.append(try await BenchHTTP.get(host, port, "/item/\(key)", timeout: .seconds(60)).milliseconds)
            }
        }
        let sample = await memory(of: batch, mode: mode)
        for vm in batch.started { try await driver.destroy(name: vm.name) }
        return CloneBatchSample(
            mode: mode, pauseMs: sample.pause, firstOKMs: firsts, batchReadyMs: readyMs, warmMs: warm, warmHits: hits,
            repeatMs: repeated, parentMs: parentMs,
            pssMiB: sample.pss, hostMiB: sample.host)
    }

    /// PSS of each clone's QEMU, host memory for the batch, and the parent's pause for it.
    private func memory(of batch: CloneBatch, mode: CloneMode) async -> (pause: Double?, pss: [Double], host: Double) {
        let names = Set(batch.started.map(\.name))
        let reports = await driver.list().filter { names.contains($0.record.name) }
        let usage = reports.compactMap { $0.pid.flatMap(ProcessMemory.read) }
        var host = Double(usage.map(\.privateKiB).reduce(0, +)) / 1024
        var pause: Double?
        if let id = batch.started.first?.lineage.snapshot {
            pause = await driver.snapshots().first { $0.id == id }?.pauseMilliseconds
            let directory = "\(driver.configuration.stateRoot)/snapshots/\(id)"
            host += Double(allocatedBytes(under: directory)) / 1_048_576
        }
        return (pause, usage.map { Double($0.pssKiB) / 1024 }, host)
    }

    /// Stops every clone and the parent; errors are ignored (the reaper kills what is left).
    public func cleanUp() async { await driver.stopEveryVM() }
}
