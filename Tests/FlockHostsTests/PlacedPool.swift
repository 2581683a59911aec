import FlockController
import FlockCore
import FlockDaemon
import FlockHostRig
import FlockQEMU
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Logging

@testable import FlockHosts

/// A pool whose clones go to namespace hosts only (not the parent's own): a `PlacingHypervisor`
/// over them, a store, in-memory metrics and balancer, and its real controller, recovered.
struct PlacedPool {
    let placing: PlacingHypervisor
    let members: [PlacingHypervisor.Member]
    let store: FlockStore
    let metrics: InMemoryMetricsSource
    let balancer: InMemoryBalancer
    let controller: PoolController

    /// `max` counts the parent; each scale-out adds at most two clones, a second apart.
    init(
        pool: String, scratch: Scratch, keys: RigKeys, hosts: [NamespaceHost], driver: QEMUDriver, parent: VMRecord,
        max: Int, lostAfter: Duration = .seconds(15), settings: PoolController.Settings = .init()
    ) async throws {
        _ = DaemonMetrics.registry  // flockd's Prometheus backend, so that tests read the metrics
        let flockctl = try HostsTests.flockctl
        members = hosts.map { $0.member(keys: keys, flockctl: flockctl, lostAfter: lostAfter) }
        placing = PlacingHypervisor(
            pool: pool, local: driver, includesLocal: false, members: members, strategy: .spread,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        store = try FlockStore(path: scratch.path("flock.db"))
        try store.applyPolicies(
            [PolicyChange(pool: pool, backend: "app", source: "test", checksum: "test")], by: "test", at: Date())
        let policy = Policy(
            pool: pool, parent: parent.name, balancer: .init(backend: "app", port: 8080),
            capacity: .init(min: 1, max: max), evaluationInterval: .seconds(1),
            checks: [
                Check(
                    name: "load", metric: .sessionsPerServer, window: .seconds(30), aggregate: .last,
                    rule: .targetValue(.init(target: 10)))
            ],
            scaleOut: .init(cooldown: .seconds(1), maxStep: 2), cloneMode: .lazy)
        metrics = InMemoryMetricsSource(clock: { Date() })
        balancer = InMemoryBalancer(backends: ["app"])
        controller = PoolController(
            policy: policy, version: 1, store: store,
            drivers: .init(metrics: metrics, balancer: balancer, hypervisor: placing), settings: settings)
        _ = try await controller.recover()
    }

    /// One tick a second after the last, with a fresh sample of load far over target, so that
    /// the engine (which waits for a sample newer than its last serving change) scales out.
    func overloadedTick() async throws -> Decision {
        try await Task.sleep(for: .milliseconds(1100))
        metrics.set(.sessionsPerServer, .value(100), backend: "app")
        return await controller.tick()
    }
}
