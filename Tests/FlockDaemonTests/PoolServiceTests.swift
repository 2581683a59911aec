import FlockCore
import FlockDaemon
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The pool loop as a service: it ticks, acts, picks up new policy versions, and stops
/// gracefully with nothing left half-done.
@Suite struct PoolServiceTests {
    @Test func ticksScaleOutAndStopGracefullyWithNothingInFlight() async throws {
        let pool = try InMemoryPool()
        pool.setLoad(35)  // 35 sessions on the parent alone: the target of 10 wants 4 serving
        let log = CapturedLog()
        let group = ServiceGroup(
            configuration: .init(
                services: [PoolService(runtime: pool.runtime, logger: log.logger())], logger: log.logger()))
        let running = Task { try await group.run() }

        #expect(try await eventually { try pool.clones(.serving).count >= 3 })
        #expect(try pool.decisionCount() >= 1)
        #expect(pool.runtime.isRecovered)
        #expect(pool.runtime.lastTick.decision != nil)

        await group.triggerGracefulShutdown()
        try await running.value  // returns only after settle()

        #expect(try pool.store.openIntents(pool: "web").isEmpty)
        #expect(try pool.clones().allSatisfy { $0.state == .serving || $0.state == .gone })
        let servers = try await pool.balancer.servers(backend: "app").map(\.name).sorted()
        #expect(servers == (try pool.clones(.serving).map(\.name).sorted()))
        #expect(log.contents.contains("pool stopped"))
        #expect(log.contents.contains("scale_out"))
    }

    @Test func pausedPoolDecidesButDoesNotAct() async throws {
        let pool = try InMemoryPool()
        try pool.store.setPaused(pool: "web", true)
        pool.setLoad(35)
        let group = ServiceGroup(
            configuration: .init(
                services: [PoolService(runtime: pool.runtime, logger: CapturedLog().logger())],
                logger: Logger(label: "t")))
        let running = Task { try await group.run() }
        // Wait for the decision itself, not a number of ticks: on a loaded machine a tick may find
        // its samples stale and hold, which is right but not what this test is about.
        let pausedScaleOut = {
            try pool.store.decisions(pool: "web", since: .distantPast).contains {
                $0.action == .scaleOut && $0.reason.hasPrefix("[paused, not acting]")
            }
        }
        #expect(try await eventually { try pausedScaleOut() })
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try pool.clones().isEmpty)
    }

    @Test func manualCountFromTheStoreDrivesThePool() async throws {
        let pool = try InMemoryPool()
        pool.setLoad(1)  // the policy alone would hold at 1
        try pool.store.setManualDesired(pool: "web", 3)
        let group = ServiceGroup(
            configuration: .init(
                services: [PoolService(runtime: pool.runtime, logger: CapturedLog().logger())],
                logger: Logger(label: "t")))
        let running = Task { try await group.run() }
        #expect(try await eventually { try pool.clones(.serving).count == 2 })
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try pool.clones(.serving).count == 2)  // parent + 2 = the manual 3
    }

    @Test func policyWatcherReloadsANewStoredVersionAndRefusesABadOne() async throws {
        let pool = try InMemoryPool()
        let watcher = PolicyWatcher(
            pools: [pool.runtime], store: pool.store, interval: .seconds(1), logger: Logger(label: "t"))
        #expect(await watcher.checkOnce().isEmpty)  // version 1 runs already

        let v2 = try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "max: 16", with: "max: 5")
        try pool.store.applyPolicies(
            [PolicyChange(pool: "web", backend: "app", source: v2, checksum: "v2")], by: "test", at: Date())
        #expect(await watcher.checkOnce() == ["web"])
        #expect(pool.runtime.policy.version == 2)
        #expect(pool.runtime.policy.policy.capacity.max == 5)

        try pool.store.applyPolicies(
            [PolicyChange(pool: "web", backend: "app", source: "pool: [", checksum: "v3")], by: "test", at: Date())
        #expect(await watcher.checkOnce().isEmpty)
        #expect(pool.runtime.policy.version == 2)
        let events = try pool.store.events(pool: "web", since: nil, limit: 100).map(\.event)
        #expect(events.contains { $0.kind == .policyApplied && $0.message.contains("version 2") })
        #expect(events.contains { $0.kind == .failure && $0.message.contains("policy version 3 not loaded") })
        // Refused once, not at every poll.
        #expect(await watcher.checkOnce().isEmpty)
        let failures = try pool.store.events(pool: "web", since: nil, limit: 100).filter { $0.event.kind == .failure }
        #expect(failures.count == 1)
    }

    @Test func stalenessIsTrackedPerMetric() async throws {
        let source = InMemoryMetricsSource(clock: Date.init)
        let tracking = StalenessTrackingSource(source)
        let start = Date(timeIntervalSinceNow: -100)
        source.set(.sessions, .value(3), backend: "app")
        source.set(.queue, .error("down"), backend: "app")
        _ = await tracking.read(backend: "app", metrics: [.sessions, .queue])
        let ages = tracking.ages(of: [.sessions, .queue], now: Date(), since: start)
        #expect((ages[.sessions] ?? 1000) < 50)
        #expect((ages[.queue] ?? 0) >= 100)  // never usable: as old as the pool
    }
}
