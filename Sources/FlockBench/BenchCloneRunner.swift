import FlockCore
import FlockQEMU
import Foundation

/// What one batch of one mode measured.
struct CloneBatchSample: Sendable {
    var mode: BenchCloneMode
    /// The parent's pause as the driver's snapshot step measured it; nil for cold (no pause).
    /// For standbys, the pause of the snapshot they were restored from: what each refresh of
    /// the standbys costs the parent.
    var pauseMs: Double?
    /// Per clone: from the decision (the clone request, or the activation of the standbys) to
    /// its first HTTP 200 on `/healthz`.
    var firstOKMs: [Double]
    /// Per clone: from the decision to its agent's ack. A batch returns once every clone
    /// acknowledged, so for cold, eager and lazy each clone counts the batch's time; each
    /// standby is activated on its own and counts its own.
    var ackMs: [Double]
    /// From the decision to the last ack: `cloneBatch` returning, or the last activation.
    var batchReadyMs: Double
    /// Per clone: from the decision to serving, the later of its ack and its first 200: no
    /// balancer sends traffic to a clone before its ack, however early its app answers.
    var servingMs: [Double]
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
    /// Standbys only: PSS of each standby's QEMU while it waits, before the decision.
    var idlePssMiB: [Double] = []
    /// What the batch costs the host: every clone's private pages plus the snapshot's files
    /// (tmpfs, so RAM), counted once however many clones map them.
    var hostMiB: Double
}

/// Drives one `bench clone` run: boots and warms the parent, then measures each mode's batch.
public final class BenchCloneRunner: Sendable {
    let driver: QEMUDriver
    let spec: VMSpec
    let modes: [BenchCloneMode]
    let count: Int
    let rounds: Int
    let keys: [String]
    let progress: @Sendable (String) -> Void

    public init(
        driver: QEMUDriver, spec: VMSpec, modes: [BenchCloneMode], count: Int, rounds: Int, keys: Int,
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
        if modes.contains(.eager) && (modes.contains(.lazy) || modes.contains(.standby)) {
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

    /// One batch: clone (standbys: restore them, read their idle memory, then activate them),
    /// time each clone's first 200 while the batch runs, request the warmed keys, read memory,
    /// destroy.
    private func measure(_ mode: BenchCloneMode, round: Int, parent: VMRecord) async throws -> CloneBatchSample {
        let names = (0..<count).map { OwnedName.make(pool: spec.pool, suffix: "\(mode.rawValue)\(round)n\($0)") }
        let request = CloneRequest(
            pool: spec.pool, parent: parent.name, mode: mode.cloneMode, names: names, standby: mode == .standby)
        let idlePss = mode == .standby ? try await restoreStandbys(request) : []
        let finished = BenchFlag()
        let probe = BenchFirstOK(stateRoot: driver.configuration.stateRoot)
        let started = ContinuousClock.now
        let batchTask = Task { [driver] () throws -> (CloneBatch, [String: Double]) in
            defer { finished.set() }
            if mode == .standby { return await self.activate(names, since: started) }
            let batch = try await driver.cloneBatch(request)
            let ready = BenchMath.milliseconds(ContinuousClock.now - started)
            return (batch, Dictionary(uniqueKeysWithValues: batch.started.map { ($0.name, ready) }))
        }
        let firsts = await withTaskGroup(of: (String, Double?).self) { group in
            for name in names {
                group.addTask { (name, await probe.wait(name, since: started, startFinished: finished)?.ms) }
            }
            var values: [String: Double] = [:]
            for await (name, value) in group { values[name] = value }
            return values
        }
        // A Ctrl-C cancels the run: the batch task is not a child, so it is cancelled by hand.
        let (batch, acks) = try await withTaskCancellationHandler {
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
        let sample = await memory(of: batch)
        for vm in batch.started { try await driver.destroy(name: vm.name) }
        return CloneBatchSample(
            mode: mode, pauseMs: sample.pause, firstOKMs: Array(firsts.values), ackMs: Array(acks.values),
            batchReadyMs: acks.values.max() ?? 0,
            servingMs: firsts.map { name, first in max(first, acks[name] ?? first) }, warmMs: warm, warmHits: hits,
            repeatMs: repeated, parentMs: parentMs,
            pssMiB: sample.pss, idlePssMiB: idlePss, hostMiB: sample.host)
    }

    /// Restores the standbys of `request` (one fresh snapshot: a refresh) and returns each one's
    /// PSS as it waits, read a second after the restore: QEMU frees the restore's buffers from its
    /// heap within about 0.2 s (3 MB, measured), and a pool's standbys wait far longer than that.
    /// Any standby that did not restore fails the run.
    private func restoreStandbys(_ request: CloneRequest) async throws -> [Double] {
        let batch = try await driver.cloneBatch(request)
        guard batch.failed.isEmpty else {
            let reasons = batch.failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            throw BenchHTTP.Failure(description: "standby batch: \(reasons.joined(separator: "; "))")
        }
        try await Task.sleep(for: Self.standbySettle)
        let names = Set(request.names)
        return await driver.list().filter { names.contains($0.record.name) }
            .compactMap { $0.pid.flatMap(ProcessMemory.read) }.map { Double($0.pssKiB) / 1024 }
    }

    static let standbySettle: Duration = .seconds(1)

    /// Activates the standbys all at once, as a scale-out would; each one's milliseconds from
    /// `started` to its ack, by name. A failed activation lands in the batch's `failed`.
    private func activate(
        _ names: [String], since started: ContinuousClock.Instant
    ) async -> (CloneBatch, [String: Double]) {
        let results = await withTaskGroup(of: (String, Result<VMInfo, any Error>, Double).self) { group in
            for name in names {
                group.addTask { [driver] in
                    let result: Result<VMInfo, any Error>
                    do {
                        result = .success(try await driver.activate(name: name))
                    } catch {
                        result = .failure(error)
                    }
                    return (name, result, BenchMath.milliseconds(ContinuousClock.now - started))
                }
            }
            var results: [(String, Result<VMInfo, any Error>, Double)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
        var batch = CloneBatch(started: [])
        var acks: [String: Double] = [:]
        for (name, result, elapsed) in results {
            switch result {
            case .success(let vm):
                batch.started.append(vm)
                acks[name] = elapsed
            case .failure(let error):
                batch.failed[name] = "\(error)"
            }
        }
        return (batch, acks)
    }

    /// PSS of each clone's QEMU, host memory for the batch, and the parent's pause for it.
    private func memory(of batch: CloneBatch) async -> (pause: Double?, pss: [Double], host: Double) {
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
