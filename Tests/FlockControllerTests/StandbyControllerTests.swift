import FlockController
import FlockCore
import FlockStore
import Foundation
import Testing

/// The policy's `standby` block in the controller: kept, activated first, refreshed, replaced,
/// recovered, and never counted or drained.
@Suite struct StandbyControllerTests {
    static func harness(count: Int = 2, maxAge: Duration = .seconds(60)) throws -> ControllerHarness {
        try ControllerHarness(policy: ControllerHarness.policy(standby: .init(count: count, maxAge: maxAge)))
    }

    @Test func standbysAreKeptButNeverCountedAsCapacity() async throws {
        let h = try Self.harness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let standbys = try h.clones(.standby)
        #expect(standbys.count == 2)
        #expect(try await h.serverNames().isEmpty, "a standby is never registered")
        let vms = try await h.hypervisor.ownedVMs()
        #expect(vms.count == 2 && vms.allSatisfy { $0.status == .paused && $0.standby != nil })
        h.advance(2)
        let decision = await h.tick(sessionsPerServer: 5)
        #expect(decision.from == 1 && decision.action == .hold, "standbys are not serving or warming: \(decision)")
        #expect(try h.clones(.standby).map(\.name).sorted() == standbys.map(\.name).sorted(), "no churn")
        let status = try #require(try h.store.status(pool: "web"))
        #expect(status.standby == 2 && status.warming == 0 && status.serving == 1)
        let restores = try h.store.journal(pool: "web", limit: 50).filter {
            $0.action == "standby" && $0.phase == .done
        }
        #expect(restores.count == 1, "one batch, one parent pause")
    }

    @Test func aScaleOutActivatesStandbysFirstThenReplenishes() async throws {
        let h = try Self.harness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let standbys = Set(try h.clones(.standby).map(\.name))
        h.advance(2)
        let decision = await h.tick(sessionsPerServer: 30)  // 1 serving × 30/10 → 3
        #expect(decision.action == .scaleOut && decision.to == 3)
        let serving = Set(try h.clones(.serving).map(\.name))
        #expect(serving == standbys, "both clones came from the standbys")
        #expect(Set(try await h.serverNames()) == serving)
        let history = try h.store.stateHistory(instance: try #require(serving.first)).map(\.to)
        #expect(history == [.booting, .ready, .registering, .serving])
        let journal = try h.store.journal(pool: "web", limit: 100).filter { $0.phase == .done }.map(\.action)
        #expect(journal.filter { $0 == "activate" }.count == 2)
        #expect(!journal.contains("clone"), "no fresh clone was needed")
        let replenished = try h.clones(.standby)
        #expect(replenished.count == 2 && Set(replenished.map(\.name)).isDisjoint(with: standbys))
        let events = try h.store.events(pool: "web", since: nil, limit: 200).map(\.event.message)
        #expect(events.contains { $0.contains("serving") && $0.contains("after the decision") })
    }

    @Test func freshClonesMakeUpWhatTheStandbysCannot() async throws {
        let h = try Self.harness(count: 1)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let standby = try #require(try h.clones(.standby).first)
        h.advance(2)
        let decision = await h.tick(sessionsPerServer: 40)  // → 4: one standby, two fresh clones
        #expect(decision.to == 4)
        let serving = try h.clones(.serving)
        #expect(serving.count == 3 && serving.contains { $0.name == standby.name })
        let journal = try h.store.journal(pool: "web", limit: 100).filter { $0.phase == .done }
        #expect(
            journal.filter { $0.action == "clone" }.count == 1 && journal.filter { $0.action == "activate" }.count == 1)
        #expect(try h.clones(.standby).isEmpty, "the scale-out's clones have the parent first")
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        let entries = try h.store.journal(pool: "web", limit: 100)
        let cloned = try #require(entries.last { $0.action == "clone" && $0.phase == .done })
        let restored = try #require(entries.last { $0.action == "standby" && $0.phase == .done })
        #expect(restored.id > cloned.id)
        #expect(try h.clones(.standby).count == 1)
    }

    @Test func aStandbyOlderThanMaxAgeIsReplacedAndNeverActivated() async throws {
        let h = try Self.harness(count: 1, maxAge: .seconds(60))
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let old = try #require(try h.clones(.standby).first)
        h.advance(61)
        let decision = await h.tick(sessionsPerServer: 20)  // → 2, while the only standby is stale
        #expect(decision.action == .scaleOut)
        #expect(try h.store.instance(named: old.name)?.state == .gone, "discarded, not activated")
        #expect(try h.store.stateHistory(instance: old.name).map(\.to) == [.stopping, .gone], "never drained")
        #expect(try h.clones(.serving).count == 1 && !(try h.clones(.serving).contains { $0.name == old.name }))
        let events = try h.store.events(pool: "web", since: nil, limit: 200).map(\.event.message)
        #expect(events.contains { $0.contains(old.name) && $0.contains("over max_age 1m") }, "\(events)")
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        let fresh = try h.clones(.standby)
        #expect(fresh.count == 1 && fresh[0].name != old.name)
    }

    @Test func aStandbyWhoseVMDiesIsReplaced() async throws {
        let h = try Self.harness(count: 1)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let victim = try #require(try h.clones(.standby).first)
        await h.hypervisor.kill(victim.name)
        h.advance(2)
        await h.tick(sessionsPerServer: 5)
        #expect(try h.store.instance(named: victim.name)?.state == .gone)
        let cause = try h.store.stateHistory(instance: victim.name).first { $0.to == .failed }?.note
        #expect(cause == "its standby VM is gone")
        h.advance(2)
        await h.tick(sessionsPerServer: 5)
        let replacement = try h.clones(.standby)
        #expect(replacement.count == 1 && replacement[0].name != victim.name)
        #expect(try await h.vmNames() == [replacement[0].name])
    }

    @Test func aFailedActivationIsReplacedByAFreshCloneAtOnce() async throws {
        let h = try Self.harness(count: 1)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let standby = try #require(try h.clones(.standby).first)
        await h.hypervisor.failNextClone(named: standby.name)
        h.advance(2)
        await h.tick(sessionsPerServer: 20)  // → 2
        #expect(try h.store.instance(named: standby.name)?.state == .gone)
        let serving = try h.clones(.serving)
        #expect(serving.count == 1 && serving[0].name != standby.name, "the decision still got its clone")
        let vms = try await h.vmNames()
        #expect(!vms.contains(standby.name))
    }

    @Test func scaleInNeverDrainsAStandbyAndALowerCountDiscardsOne() async throws {
        let h = try Self.harness(count: 2)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        h.advance(2)
        await h.tick(sessionsPerServer: 20)  // one standby activated, one replenished
        for _ in 0..<8 {
            h.advance(2)
            await h.tick(sessionsPerServer: 1)
        }
        #expect(try h.clones(.serving).isEmpty)
        let standbys = try h.clones(.standby)
        #expect(standbys.count == 2)
        let drained = try h.store.journal(pool: "web", limit: 200).filter { $0.action == "drain" }.compactMap(
            \.instance)
        #expect(Set(drained).isDisjoint(with: standbys.map(\.name)))

        await h.controller.reloadPolicy(ControllerHarness.policy(standby: .init(count: 1)), version: 2)
        h.advance(2)
        await h.tick(sessionsPerServer: 1)
        let left = try h.clones(.standby)
        #expect(left.count == 1)
        let discarded = try #require(standbys.first { $0.name != left[0].name })
        #expect(try h.store.stateHistory(instance: discarded.name).map(\.to) == [.stopping, .gone])

        await h.controller.reloadPolicy(ControllerHarness.policy(), version: 3)
        h.advance(2)
        await h.tick(sessionsPerServer: 1)
        let vms = try await h.vmNames()
        #expect(try h.clones(.standby).isEmpty && vms.isEmpty, "no block, no standbys")
    }

    @Test func aRestartAdoptsLiveStandbysAndCleansUpTheRest() async throws {
        let h = try Self.harness(count: 2)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        let standbys = try h.clones(.standby).map(\.name).sorted()
        // While the daemon is down: one standby's VM dies, and a restore it had under way left
        // a VM the store never recorded.
        await h.hypervisor.kill(standbys[0])
        let unrecorded = OwnedName.make(pool: "web", suffix: "feedbeef")
        _ = try await h.hypervisor.clone(
            CloneRequest(pool: "web", parent: "web-parent", mode: .lazy, names: [unrecorded], standby: true))

        let restarted = h.restartedController(
            policy: ControllerHarness.policy(standby: .init(count: 2, maxAge: .seconds(60))))
        let report = try await restarted.recover()
        #expect(report.orphanVMs == [unrecorded])
        #expect(report.lostVMs == [standbys[0]])
        #expect(try h.store.instance(named: standbys[1])?.state == .standby, "adopted")
        h.advance(2)
        _ = await restarted.tick()
        await restarted.settle()
        let now = try h.clones(.standby).map(\.name)
        #expect(now.count == 2 && now.contains(standbys[1]) && !now.contains(standbys[0]))
        let vms = try await h.vmNames()
        #expect(Set(vms) == Set(now))
        // The adopted standby kept its age: it is activated like one made by this process.
        h.metrics.set(.sessionsPerServer, .value(30), backend: "app")  // → 3: both standbys
        h.advance(2)
        _ = await restarted.tick()
        await restarted.settle()
        #expect(try h.store.instance(named: standbys[1])?.state == .serving)
    }

    @Test func failingStandbyRestoresNeverHoldUpAScaleOut() async throws {
        let h = try Self.harness(count: 1)
        await h.hypervisor.refuseStandbys(true)
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 5)
        #expect(try h.clones().isEmpty)
        h.advance(2)
        let decision = await h.tick(sessionsPerServer: 20)  // → 2, right after a failed restore
        #expect(decision.action == .scaleOut)
        #expect(try h.clones(.serving).count == 1, "the scale-out was not postponed by the standbys' backoff")
        let events = try h.store.events(pool: "web", since: nil, limit: 200).map(\.event.message)
        #expect(events.contains { $0.contains("standby restore of 1 clone(s) failed") && $0.contains("no standby") })
        #expect(!events.contains { $0.contains("postponed") }, "\(events)")
        await h.hypervisor.refuseStandbys(false)
        h.advance(11)  // past the first backoff (10 s in the harness)
        await h.tick(sessionsPerServer: 10)
        #expect(try h.clones(.standby).count == 1)
    }

    @Test func aPausedOrDryRunPoolMakesNoStandbys() async throws {
        let dry = try ControllerHarness(policy: ControllerHarness.policy(dryRun: true, standby: .init(count: 2)))
        try await dry.controller.recover()
        await dry.tick(sessionsPerServer: 5)
        #expect(try dry.clones().isEmpty)

        let paused = try Self.harness()
        try paused.store.setPaused(pool: "web", true)
        try await paused.controller.recover()
        await paused.tick(sessionsPerServer: 5)
        #expect(try paused.clones().isEmpty)
    }
}
