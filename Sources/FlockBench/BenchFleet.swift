import FlockController
import FlockCore
import FlockStore
import FlockTesting
import Foundation
import Synchronization

/// Many pools on one store and one set of in-memory drivers, as one daemon would run them.
///
/// Every pool holds steady (its load sits on its target), so a tick does the full evaluation
/// but starts no clone: the bench times the loop, not the in-memory hypervisor.
final class BenchFleet: Sendable {
    let store: FlockStore
    let controllers: [PoolController]
    let names: [String]
    let clock: BenchClock
    let metricsPerTick: Int
    static let interval: Duration = .seconds(10)

    private init(
        store: FlockStore, controllers: [PoolController], names: [String], clock: BenchClock, metricsPerTick: Int
    ) {
        self.store = store
        self.controllers = controllers
        self.names = names
        self.clock = clock
        self.metricsPerTick = metricsPerTick
    }

    /// The policy every pool runs: target tracking on sessions per server plus a response-time
    /// guard, like `Policies/web.yaml`, so each tick reads and stores two metrics.
    static func policy(pool: String, backends: Int) -> Policy {
        Policy(
            pool: pool, parent: "\(pool)-parent", balancer: .init(backend: "be-\(pool)", port: 8080),
            capacity: .init(min: 1, max: max(backends * 2, 2)), evaluationInterval: interval,
            checks: [
                Check(
                    name: "load", metric: .sessionsPerServer, window: .seconds(30), aggregate: .mean,
                    rule: .targetValue(.init(target: 20))),
                Check(
                    name: "latency", metric: .responseTimeMs, window: .seconds(30), aggregate: .max,
                    rule: .threshold(.init(bound: .above(500), action: .add(1)))),
            ])
    }

    static func make(path: String, pools: Int, backendsPerPool: Int, retention: Duration) async throws -> BenchFleet {
        let store = try FlockStore(path: path, sampleRetention: retention)
        let clock = BenchClock()
        let now: @Sendable () -> Date = { clock.now() }
        let names = (0..<pools).map { String(format: "p%05d", $0) }
        try store.applyPolicies(
            names.map { PolicyChange(pool: $0, backend: "be-\($0)", source: "bench", checksum: "bench") },
            by: "bench", at: clock.now())
        let metrics = InMemoryMetricsSource(clock: now)
        let balancer = InMemoryBalancer(backends: names.map { "be-\($0)" })
        let hypervisor = InMemoryHypervisor(
            parents: Dictionary(uniqueKeysWithValues: names.map { ("\($0)-parent", $0) }))
        var controllers: [PoolController] = []
        for pool in names {
            let policy = policy(pool: pool, backends: backendsPerPool)
            metrics.set(.sessionsPerServer, .value(20), backend: policy.balancer.backend)
            metrics.set(.responseTimeMs, .value(40), backend: policy.balancer.backend)
            try store.upsert(
                Instance(name: policy.parent, pool: pool, role: .parent, state: .serving, createdAt: clock.now()))
            // Serving clones are in the store and registered with the balancer, as after a
            // clean start: the tick re-registers serving clones the balancer has lost.
            for index in 1..<max(backendsPerPool, 1) {
                let name = OwnedName.make(pool: pool, suffix: "c\(index)")
                let address = "10.0.\(index / 250).\(index % 250 + 2)"
                try store.upsert(
                    Instance(
                        name: name, pool: pool, role: .clone, state: .serving,
                        lineage: .init(parent: policy.parent, generation: 1, mode: .lazy), address: address,
                        port: 8080, createdAt: clock.now()))
                try await balancer.register(
                    ServerRegistration(
                        backend: policy.balancer.backend, name: name, address: address, port: 8080))
            }
            controllers.append(
                PoolController(
                    policy: policy, version: 1, store: store,
                    drivers: .init(metrics: metrics, balancer: balancer, hypervisor: hypervisor), clock: .single(now)))
        }
        return BenchFleet(store: store, controllers: controllers, names: names, clock: clock, metricsPerTick: 2)
    }

    struct Ticks {
        var tickMs: [Double] = []
        var roundMs: [Double] = []
        var samplesWritten = 0
    }

    /// Ticks every pool once per round, the clock one evaluation interval on each round.
    func tickRounds(_ rounds: Int) async -> Ticks {
        var ticks = Ticks()
        for _ in 0..<rounds {
            clock.advance(Self.interval.seconds)
            let roundStart = ContinuousClock.now
            for controller in controllers {
                let start = ContinuousClock.now
                await controller.tick()
                ticks.tickMs.append(BenchMath.milliseconds(ContinuousClock.now - start))
            }
            ticks.roundMs.append(BenchMath.milliseconds(ContinuousClock.now - roundStart))
            ticks.samplesWritten += controllers.count * metricsPerTick
        }
        return ticks
    }

    struct Fill {
        var samples = 0
        var seconds = 0.0
        var batches = 0
    }

    /// Writes `span` of samples, every pool's readings of one interval in one batched append
    /// (the store's many-pool path), so retention prunes as it would in a long-running daemon.
    func fillSamples(for span: Duration) throws -> Fill {
        var fill = Fill()
        let steps = Int(span.seconds / Self.interval.seconds)
        for _ in 0..<steps {
            clock.advance(Self.interval.seconds)
            let time = clock.now()
            var byPool: [String: [MetricSample]] = [:]
            for pool in names {
                byPool[pool] = [
                    MetricSample(metric: .sessionsPerServer, time: time, value: 20),
                    MetricSample(metric: .responseTimeMs, time: time, value: 40),
                ]
            }
            let start = ContinuousClock.now
            try store.append(samples: byPool)
            fill.seconds += BenchMath.milliseconds(ContinuousClock.now - start) / 1000
            fill.samples += controllers.count * 2
            fill.batches += 1
        }
        return fill
    }
}

/// Simulated wall-clock time: the bench moves it, so an hour of samples takes seconds.
final class BenchClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func now() -> Date { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
