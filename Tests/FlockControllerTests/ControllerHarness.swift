import FlockController
import FlockCore
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Synchronization

/// A pool wired to in-memory drivers, a real store in a temporary directory, and a manual clock.
final class ControllerHarness: Sendable {
    let scratch: Scratch
    let store: FlockStore
    let metrics: InMemoryMetricsSource
    let balancer: InMemoryBalancer
    let hypervisor: InMemoryHypervisor
    let clock = ManualClock()
    let controller: PoolController

    static func policy(dryRun: Bool = false, standby: Policy.Standby? = nil) -> Policy {
        Policy(
            pool: "web", parent: "web-parent", balancer: .init(backend: "app", port: 8080),
            capacity: .init(min: 1, max: 6), evaluationInterval: .seconds(2),
            checks: [
                Check(
                    name: "load", metric: .sessionsPerServer, window: .seconds(4), aggregate: .last,
                    rule: .targetValue(.init(target: 10)))
            ],
            scaleOut: .init(cooldown: .seconds(2), maxStep: 4),
            scaleIn: .init(cooldown: .seconds(4), stabilization: .seconds(4), maxStep: 1, drainTimeout: .seconds(1)),
            dryRun: dryRun, standby: standby
        )
    }

    init(policy: Policy = ControllerHarness.policy(), backends: [String] = ["app"]) throws {
        balancer = InMemoryBalancer(backends: backends)
        scratch = try Scratch(prefix: "flock-controller")
        store = try FlockStore(path: scratch.path("flock.db"))
        try store.applyPolicies(
            [PolicyChange(pool: "web", backend: "app", source: "test", checksum: "test")], by: "test", at: Date())
        let clock = self.clock
        let now: @Sendable () -> Date = { clock.now() }
        hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"], now: now)
        metrics = InMemoryMetricsSource(clock: now)
        controller = PoolController(
            policy: policy, version: 1, store: store,
            drivers: .init(metrics: metrics, balancer: balancer, hypervisor: hypervisor),
            settings: Self.settings, clock: .single(now))
    }

    static let settings = PoolController.Settings(
        initialBackoff: .seconds(10), maximumBackoff: .seconds(60), failureAlarm: 2, orphanGrace: .seconds(5))

    /// A second controller on the same store and drivers, as a restarted daemon would build.
    func restartedController(policy: Policy = ControllerHarness.policy()) -> PoolController {
        let clock = self.clock
        return PoolController(
            policy: policy, version: 1, store: store,
            drivers: .init(metrics: metrics, balancer: balancer, hypervisor: hypervisor), settings: Self.settings,
            clock: .single { clock.now() })
    }

    /// Moves the clock on, as the daemon's loop would between ticks.
    func advance(_ seconds: Double) { clock.advance(seconds) }

    /// Sets the load, ticks, and waits for whatever the tick started to finish.
    @discardableResult
    func tick(sessionsPerServer: Double?) async -> Decision {
        metrics.set(.sessionsPerServer, sessionsPerServer.map { .value($0) } ?? .error("source down"), backend: "app")
        let decision = await controller.tick()
        await controller.settle()
        return decision
    }

    /// The same for a policy whose check reads new sessions per second per server.
    @discardableResult
    func tick(sessionRatePerServer: Double) async -> Decision {
        metrics.set(.sessionRatePerServer, .value(sessionRatePerServer), backend: "app")
        let decision = await controller.tick()
        await controller.settle()
        return decision
    }

    func clones(_ state: InstanceState? = nil) throws -> [Instance] {
        try store.instances(pool: "web", includeGone: true).filter {
            $0.role == .clone && (state == nil || $0.state == state)
        }
    }

    func serverNames() async throws -> [String] { try await balancer.servers(backend: "app").map(\.name) }
    func vmNames() async throws -> [String] { try await hypervisor.ownedVMs().map(\.name) }
}

/// Wall-clock time that only moves when a test says so.
final class ManualClock: Sendable {
    private let time = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
    func now() -> Date { time.withLock { $0 } }
    func advance(_ seconds: Double) { time.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
