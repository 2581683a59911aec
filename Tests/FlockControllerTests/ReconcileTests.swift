import FlockController
import FlockCore
import FlockStore
import FlockTesting
import Testing

/// Faults that happen while the daemon runs are repaired by the reconcile at the start of each
/// tick, not only by the recovery at start-up.
@Suite struct ReconcileTests {
    func messages(_ h: ControllerHarness) throws -> [String] {
        try h.store.events(pool: "web", since: nil, limit: 500).map(\.event.message)
    }

    /// Two clones serve; one's VM dies. The next tick fails it, takes its server out, destroys
    /// what is left, and the policy (still seeing the same load) replaces it.
    @Test func aCloneWhoseVMDiesIsFailedRemovedAndReplaced() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        let before = try h.clones(.serving)
        #expect(before.count == 2)
        let dead = try #require(before.first)
        await h.hypervisor.kill(dead.name)

        // Two of three servers left carry the load: 15 each, over the target of 10.
        h.advance(2)
        await h.tick(sessionsPerServer: 15)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        let history = try h.store.stateHistory(instance: dead.name).map(\.to)
        #expect(history.suffix(2) == [.failed, .gone], "\(history)")
        let serving = try h.clones(.serving)
        #expect(serving.count == 2, "the lost capacity is replaced")
        #expect(!serving.map(\.name).contains(dead.name))
        #expect(try await h.serverNames().sorted() == serving.map(\.name).sorted())
        #expect(try await h.vmNames().sorted() == serving.map(\.name).sorted())
        #expect(try messages(h).contains { $0.contains(dead.name) && $0.contains("its VM is gone") })
    }

    /// A clone whose VM the hypervisor says it lost with a cause (a lost host) is failed with that
    /// cause rather than "its VM is gone", and replaced like any other.
    @Test func aCloneLostWithACauseIsFailedWithIt() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        let lost = try #require(try h.clones(.serving).first)
        await h.hypervisor.lose(lost.name, because: "host b1 lost: no answer for 15.0s")

        h.advance(2)
        await h.tick(sessionsPerServer: 15)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        let record = try #require(try h.store.instance(named: lost.name))
        #expect(record.state == .gone && record.failure == "host b1 lost: no answer for 15.0s", "\(record)")
        #expect(try messages(h).contains("\(lost.name): host b1 lost: no answer for 15.0s"))
        #expect(try h.clones(.serving).count == 2, "replaced")
    }

    /// A parent paused behind Flock's back (or left paused by a crash mid-snapshot) is resumed at
    /// run time and at start-up, and each time an event says so.
    @Test func aPausedParentIsResumedAndReported() async throws {
        let h = try ControllerHarness()
        await h.hypervisor.pauseParent("web-parent")
        try await h.controller.recover()
        #expect(try await h.hypervisor.resumeParent(name: "web-parent") == nil, "recovery resumed it")
        await h.hypervisor.pauseParent("web-parent")
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.hypervisor.resumeParent(name: "web-parent") == nil, "the tick resumed it")
        let resumed = try messages(h).filter { $0.contains("web-parent was paused") && $0.contains("resumed") }
        #expect(resumed.count == 2, "\(resumed)")

        // A paused pool is how an operator says they are working on the parent: left alone.
        try h.store.setPaused(pool: "web", true)
        await h.hypervisor.pauseParent("web-parent")
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.hypervisor.resumeParent(name: "web-parent") == "paused", "a paused pool's parent stays")
    }

    /// A serving clone that the balancer reports DOWN for longer than its checks allow stops
    /// counting as capacity: it is failed and replaced, so the metrics' server count and the
    /// controller's agree. A shorter DOWN spell is tolerated.
    @Test func aCloneDownLongerThanItsChecksAllowIsReplaced() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)  // 1 → 2
        let clone = try #require(try h.clones(.serving).first)
        await h.balancer.setStatus(.down, backend: "app", server: clone.name)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try h.clones(.serving).map(\.name) == [clone.name], "2 s DOWN is within rise+fall checks")
        for _ in 0..<6 {
            h.advance(2)
            await h.tick(sessionsPerServer: 10)
        }
        #expect(try h.store.instance(named: clone.name)?.state == .gone)
        #expect(try messages(h).contains { $0.contains(clone.name) && $0.contains("DOWN in app") })
        h.advance(2)
        await h.tick(sessionsPerServer: 20)  // the parent alone now carries both servers' load
        let serving = try h.clones(.serving)
        #expect(serving.count == 1 && serving[0].name != clone.name, "a fresh clone took its place")
    }

    /// A clone that flaps (DOWN, briefly UP, DOWN again), as a guest too slow for its check
    /// timeout does, is failed and replaced once its DOWN clock passes the allowance; one that
    /// stays UP for the allowance starts from zero at its next DOWN spell.
    @Test func aFlappingCloneIsReplacedButOneThatRecoversIsNot() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)  // 1 → 2
        let clone = try #require(try h.clones(.serving).first)
        func spell(_ status: BalancerServer.Status, seconds: Int) async {
            await h.balancer.setStatus(status, backend: "app", server: clone.name)
            for _ in 0..<(seconds / 2) {
                h.advance(2)
                await h.tick(sessionsPerServer: 10)
            }
        }
        // DOWN 6 s, UP 12 s (seen UP over 10 s, the allowance: 2 s × (rise 2 + fall 3)), DOWN
        // 6 s: it recovered in between.
        await spell(.down, seconds: 6)
        await spell(.up, seconds: 12)
        await spell(.down, seconds: 6)
        #expect(try h.clones(.serving).map(\.name) == [clone.name], "it stayed UP for the allowance in between")
        // Then it flaps: UP 2 s, DOWN 4 s, again and again. Within the allowance of its first
        // DOWN spell it is failed.
        for _ in 0..<2 {
            await spell(.up, seconds: 2)
            await spell(.down, seconds: 4)
        }
        #expect(try h.store.instance(named: clone.name)?.state == .gone)
        let said = try messages(h)
        #expect(
            said.contains {
                $0.contains(clone.name) && $0.contains("DOWN in app for") && $0.contains("UP again meanwhile")
            }, "\(said)")
    }

    /// A `flock-` server of this pool that no live instance stands behind is drained and removed
    /// while the daemon runs; servers of other pools, and others' servers, are left alone.
    @Test func aStaleServerIsRemovedAtRunTime() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: "flock-web-0ddd0004", address: "10.0.0.9", port: 8080))
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: "flock-api-0eee0005", address: "10.0.0.8", port: 8080))
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.serverNames() == ["flock-api-0eee0005"])
    }

    /// A VM of this pool with no record is destroyed, but only after the grace that lets any step
    /// creating one record it first.
    @Test func anOrphanVMIsDestroyedOnlyAfterItsGrace() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        _ = try await h.hypervisor.clone(
            CloneRequest(pool: "web", parent: "web-parent", mode: .lazy, names: ["flock-web-0fff0006"]))
        await h.tick(sessionsPerServer: 10)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.vmNames() == ["flock-web-0fff0006"], "within the 5 s grace")
        h.advance(4)
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.vmNames().isEmpty)
    }

    /// A failed clone's VM is not destroyed while the balancer may still route to it: with
    /// removals refused, the VM stays; once the balancer answers, server then VM go.
    @Test func aVMIsDestroyedOnlyOnceItsServerIsGone() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)
        let clone = try #require(try h.clones(.serving).first)
        await h.balancer.refuseRemovals(true)
        await h.balancer.setStatus(.down, backend: "app", server: clone.name)
        for _ in 0..<6 {
            h.advance(2)
            await h.tick(sessionsPerServer: 10)
        }
        let history = try h.store.stateHistory(instance: clone.name).map(\.to)
        let said = try messages(h).suffix(6)
        #expect(try h.store.instance(named: clone.name)?.state == .failed, "\(history) \(said)")
        #expect(try await h.serverNames().contains(clone.name))
        #expect(try await h.vmNames().contains(clone.name), "never destroyed while routed")
        await h.balancer.refuseRemovals(false)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try h.store.instance(named: clone.name)?.state == .gone)
        #expect(try await !h.serverNames().contains(clone.name))
        #expect(try await !h.vmNames().contains(clone.name))
    }

    /// A policy version that moves the pool to another backend: the serving clones are registered
    /// in the new one, and the old backend's servers of this pool are drained and removed, also
    /// when the move happened before a restart.
    @Test func aBackendMoveLeavesNothingInTheOldBackend() async throws {
        let h = try ControllerHarness(backends: ["app", "api"])
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        let clones = try h.clones(.serving).map(\.name).sorted()
        #expect(clones.count == 2)
        try h.store.applyPolicies(
            [PolicyChange(pool: "web", backend: "api", source: "test 2", checksum: "test 2")], by: "test",
            at: h.clock.now())
        var moved = ControllerHarness.policy()
        moved.balancer.backend = "api"
        await h.controller.reloadPolicy(moved, version: 2)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.balancer.servers(backend: "api").map(\.name).sorted() == clones)
        #expect(try await h.serverNames().isEmpty, "nothing left in the old backend")

        // Left behind by a daemon that crashed mid-move: a restarted one finds it from the history.
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: clones[0], address: "10.0.0.7", port: 8080))
        let restarted = h.restartedController(policy: moved)
        try await restarted.recover()
        h.advance(2)
        _ = await restarted.tick()
        await restarted.settle()
        #expect(try await h.serverNames().isEmpty)
    }

    /// A cooldown holds across a restart because the restarted controller loads the decisions
    /// inside it from the store.
    @Test func aCooldownHoldsAcrossARestart() async throws {
        var policy = ControllerHarness.policy()
        policy.scaleOut.cooldown = .seconds(60)
        let h = try ControllerHarness(policy: policy)
        try await h.controller.recover()
        #expect(await h.tick(sessionsPerServer: 20).action == .scaleOut)
        h.advance(10)
        let restarted = h.restartedController(policy: policy)
        try await restarted.recover()
        h.metrics.set(.sessionsPerServer, .value(40), backend: "app")
        let decision = await restarted.tick()
        await restarted.settle()
        #expect(decision.action == .hold, "\(decision.reason)")
        #expect(decision.reason.contains("cooldown"), "\(decision.reason)")
    }

    /// Scale-in takes clones of the oldest snapshot first, so old snapshots lose their last user.
    @Test func scaleInPrefersClonesOfTheOldestSnapshot() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)  // 1 → 2: generation 1
        let old = try #require(try h.clones(.serving).first)
        h.advance(3)
        await h.tick(sessionsPerServer: 15)  // 2 → 3: generation 2
        #expect(try h.clones(.serving).count == 2)
        var retired: Instance?
        for _ in 0..<8 where retired == nil {
            h.advance(2)
            await h.tick(sessionsPerServer: 6)
            retired = try h.clones(.gone).first
        }
        #expect(retired?.name == old.name)
    }
}

/// The controller measures its intervals on its own clock: a step of the wall clock, which the
/// metrics sources stamp their samples with, neither ends a cooldown nor makes fresh samples stale.
@Suite struct WallClockStepTests {
    @Test(arguments: [3600.0, -3600.0])
    func aWallClockStepNeitherSkipsACooldownNorStalesTheSamples(_ step: Double) async throws {
        var policy = ControllerHarness.policy()
        policy.scaleOut.cooldown = .seconds(60)
        let h = try ControllerHarness(policy: policy)
        let wall = ManualClock()
        let steady = h.clock
        let metrics = InMemoryMetricsSource(clock: { wall.now() })
        let controller = PoolController(
            policy: policy, version: 1, store: h.store,
            drivers: .init(metrics: metrics, balancer: h.balancer, hypervisor: h.hypervisor),
            settings: ControllerHarness.settings, clock: PoolClock(now: { steady.now() }, wall: { wall.now() }))
        try await controller.recover()
        metrics.set(.sessionsPerServer, .value(20), backend: "app")
        #expect(await controller.tick().action == .scaleOut)
        await controller.settle()

        steady.advance(2)
        wall.advance(2 + step)
        metrics.set(.sessionsPerServer, .value(40), backend: "app")
        let decision = await controller.tick()
        await controller.settle()
        #expect(decision.action == .hold, "\(decision.reason)")
        #expect(decision.reason.contains("cooldown"), "the samples were fresh, the cooldown held: \(decision.reason)")
    }
}
