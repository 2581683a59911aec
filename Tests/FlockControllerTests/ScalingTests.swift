import FlockController
import FlockCore
import FlockStore
import Testing

@Suite struct ScalingTests {
    @Test func scaleOutClonesRegistersAndJournalsEveryStep() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        let decision = await h.tick(sessionsPerServer: 30)  // 1 serving × 30/10 → 3
        #expect(decision.action == .scaleOut && decision.from == 1 && decision.to == 3)
        let serving = try h.clones(.serving)
        #expect(serving.count == 2)
        #expect(
            serving.allSatisfy { $0.lineage.parent == "web-parent" && $0.lineage.mode == .lazy && $0.address != nil })
        #expect(try await h.serverNames().sorted() == serving.map(\.name).sorted())
        #expect(try await h.vmNames().sorted() == serving.map(\.name).sorted())
        #expect(try h.store.openIntents(pool: "web").isEmpty)
        let actions = try h.store.journal(pool: "web", limit: 50).filter { $0.phase == .done }.map(\.action)
        #expect(actions.filter { $0 == "clone" }.count == 1, "one batch, one parent pause")
        #expect(actions.filter { $0 == "register" }.count == 2)
        let history = try h.store.stateHistory(instance: serving[0].name).map(\.to)
        #expect(history == [.cloning, .booting, .ready, .registering, .serving])
    }

    @Test func warmingClonesAreNotAskedForTwice() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        h.advance(2)
        // Load per server fell to 10 with three serving: on target, no second scale-out.
        let decision = await h.tick(sessionsPerServer: 10)
        #expect(decision.action == .hold)
        #expect(try h.clones().count == 2)
    }

    @Test func scaleInRetiresTheNewestCloneAndNeverTheParent() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        var decisions: [Decision] = []
        for _ in 0..<12 {
            h.advance(2)
            decisions.append(await h.tick(sessionsPerServer: 1))
        }
        #expect(decisions.filter { $0.action == .scaleIn }.count == 2)
        #expect(try h.clones(.serving).isEmpty)
        #expect(try h.clones(.gone).count == 2)
        #expect(try await h.serverNames().isEmpty)
        #expect(try await h.vmNames().isEmpty)
        let parent = try h.store.instances(pool: "web").filter { $0.role == .parent }
        #expect(parent.map(\.state) == [.serving])
        let drains = try h.store.journal(pool: "web", limit: 100).filter { $0.action == "drain" && $0.phase == .done }
        #expect(drains.count == 2 && drains.allSatisfy { $0.detail == "drained" }, "\(drains)")
    }

    @Test func aDrainThatTimesOutIsRecordedAndTheServerStillRemoved() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)
        let clone = try #require(try h.clones(.serving).first)
        await h.balancer.setSessions(3, backend: "app", server: clone.name)
        for _ in 0..<6 {
            h.advance(2)
            await h.tick(sessionsPerServer: 1)
        }
        let drain = try #require(
            try h.store.journal(pool: "web", limit: 100).first { $0.action == "drain" && $0.phase != .intent })
        #expect(drain.phase == .failed && drain.detail == "timed out with 3 session(s) open")
        #expect(try h.clones(.gone).map(\.name) == [clone.name])
    }

    @Test func missingMetricsHoldAndAreRecordedAsEvents() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 30)
        for _ in 0..<6 {
            h.advance(2)
            let decision = await h.tick(sessionsPerServer: nil)
            #expect(decision.action == .hold)
        }
        #expect(try h.clones(.serving).count == 2, "no scale-in on missing data")
        let missing = try h.store.events(pool: "web", since: nil, limit: 100).filter { $0.event.kind == .metricMissing }
        #expect(missing.count == 6)
    }

    @Test func pausedPoolsDecideButDoNotAct() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        try h.store.setPaused(pool: "web", true)
        let decision = await h.tick(sessionsPerServer: 30)
        #expect(decision.action == .scaleOut && decision.reason.hasPrefix("[paused, not acting]"))
        #expect(try h.clones().isEmpty)
        #expect(try h.store.decisions(pool: "web", since: .distantPast).count == 1)
    }

    @Test func dryRunDecidesButDoesNotAct() async throws {
        let h = try ControllerHarness(policy: ControllerHarness.policy(dryRun: true))
        try await h.controller.recover()
        let decision = await h.tick(sessionsPerServer: 30)
        #expect(decision.action == .scaleOut && decision.dryRun)
        #expect(try h.clones().isEmpty)
    }

    @Test func aManualCountIsClampedAndStepped() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        try h.store.setManualDesired(pool: "web", 50)
        let decision = await h.tick(sessionsPerServer: 1)
        #expect(decision.action == .scaleOut && decision.to == 5, "max_step 4 from 1")
        #expect(decision.reason.contains("manual desired count 50 (clamped to 6)"))
        h.advance(2)
        let next = await h.tick(sessionsPerServer: 1)
        #expect(next.to == 6)
        #expect(try h.clones(.serving).count == 5)
    }
}

@Suite struct PolicyReloadTests {
    @Test func aNewPolicyVersionTakesEffectAtTheNextTick() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        var tighter = ControllerHarness.policy()
        tighter.capacity.max = 2
        await h.controller.reloadPolicy(tighter, version: 2)
        let decision = await h.tick(sessionsPerServer: 50)
        #expect(decision.action == .scaleOut && decision.to == 2)
        #expect(decision.reason.contains("capped at max 2"))
    }
}
