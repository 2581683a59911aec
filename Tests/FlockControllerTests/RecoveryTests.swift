import FlockController
import FlockCore
import FlockStore
import Testing

/// After a crash, a restarted controller makes the store, the hypervisor and the balancer agree,
/// touching only what Flock owns for its pool.
@Suite struct RecoveryTests {
    /// Starts `names` as VMs the way a driver would, without the store knowing.
    func startVMs(_ h: ControllerHarness, _ names: [String]) async throws -> [VMInfo] {
        try await h.hypervisor.clone(CloneRequest(pool: "web", parent: "web-parent", mode: .lazy, names: names)).started
    }

    /// Records a clone in `state` as a crashed daemon would have left it.
    func record(_ h: ControllerHarness, _ vm: VMInfo, walkingTo state: InstanceState) throws {
        try h.store.upsert(
            Instance(
                name: vm.name, pool: "web", role: .clone, lineage: vm.lineage, address: vm.address, port: 8080,
                createdAt: h.clock.now()))
        let path: [InstanceState] = [.cloning, .booting, .ready, .registering, .serving, .draining]
        for step in path.prefix(through: path.firstIndex(of: state)!) {
            try h.store.transition(instance: vm.name, to: step, at: h.clock.now())
        }
    }

    /// True when store, VMs and servers tell the same story: every live clone has a VM and, once
    /// serving, a server; nothing Flock owns exists without a live clone.
    func converged(_ h: ControllerHarness) async throws -> Bool {
        let live = Set(try h.clones().filter { $0.state != .gone }.map(\.name))
        let serving = Set(try h.clones(.serving).map(\.name))
        let vms = Set(try await h.vmNames())
        let servers = Set(try await h.serverNames().filter { OwnedName.isOwned($0, pool: "web") })
        return live == serving && vms == live && servers == serving
    }

    @Test func orphansStaleServersAndOthersServersAreHandledByOwnership() async throws {
        let h = try ControllerHarness()
        let orphan = try #require(try await startVMs(h, ["flock-web-0aaa0001"]).first)
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: "flock-web-0bbb0002", address: "10.0.0.9", port: 8080))
        await h.balancer.addStatic(
            BalancerServer(name: "web-static", address: "10.0.0.2", port: 8080, status: .up), backend: "app")
        await h.balancer.addStatic(
            BalancerServer(name: "flock-web-a-1", address: "10.0.0.3", port: 8080, status: .up), backend: "app")

        let report = try await h.controller.recover()
        #expect(report.orphanVMs == [orphan.name])
        #expect(report.staleServers == ["flock-web-0bbb0002"])
        #expect(try await h.vmNames().isEmpty)
        #expect(
            try await h.serverNames() == ["flock-web-a-1", "web-static"], "servers Flock does not own are untouched")
        #expect(try await converged(h))
    }

    @Test func aBalancerReloadIsRepairedByRegisteringAgain() async throws {
        let h = try ControllerHarness()
        let vm = try #require(try await startVMs(h, ["flock-web-0ccc0003"]).first)
        try record(h, vm, walkingTo: .serving)
        let report = try await h.controller.recover()
        #expect(report.reregistered == [vm.name])
        #expect(try await h.serverNames() == [vm.name])
        #expect(try await converged(h))
    }

    @Test func aCloneWhoseVMVanishedIsFailedAndRemovedFromTheBalancer() async throws {
        let h = try ControllerHarness()
        let vm = try #require(try await startVMs(h, ["flock-web-0ddd0004"]).first)
        try record(h, vm, walkingTo: .serving)
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: vm.name, address: vm.address!, port: 8080))
        try await h.hypervisor.destroy(name: vm.name)
        let report = try await h.controller.recover()
        #expect(report.lostVMs == [vm.name])
        await h.tick(sessionsPerServer: 10)
        #expect(try h.clones(.gone).map(\.name) == [vm.name])
        #expect(try h.clones(.gone).first?.failure == "its VM is gone")
        #expect(try await converged(h))
    }

    @Test func aCrashMidScaleOutRollsBackUnacknowledgedClonesAndFinishesRegistrations() async throws {
        let h = try ControllerHarness()
        let vms = try await startVMs(h, ["flock-web-0eee0005", "flock-web-0fff0006"])
        try record(h, vms[0], walkingTo: .cloning)
        try record(h, vms[1], walkingTo: .registering)
        try h.store.journalIntent(pool: "web", instance: nil, action: "clone", detail: "crashed", at: h.clock.now())
        let report = try await h.controller.recover()
        #expect(report.interruptedIntents == 1)
        #expect(try h.store.openIntents(pool: "web").isEmpty)
        await h.tick(sessionsPerServer: 10)
        #expect(try h.clones(.gone).map(\.name) == [vms[0].name], "an unacknowledged clone is not trusted")
        #expect(try h.clones(.serving).map(\.name) == [vms[1].name], "a half-done registration is finished")
        #expect(try await converged(h))
    }

    @Test func aCrashMidScaleInFinishesTheDrain() async throws {
        let h = try ControllerHarness()
        let vm = try #require(try await startVMs(h, ["flock-web-01110007"]).first)
        try record(h, vm, walkingTo: .draining)
        try await h.balancer.register(
            ServerRegistration(backend: "app", name: vm.name, address: vm.address!, port: 8080))
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 10)
        #expect(try h.clones(.gone).map(\.name) == [vm.name])
        #expect(try await h.serverNames().isEmpty)
        #expect(try await h.vmNames().isEmpty)
        #expect(try await converged(h))
    }

    @Test func theParentIsAdoptedOnceAndCountsAsServing() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        try await h.controller.recover()
        let parents = try h.store.instances(pool: "web").filter { $0.role == .parent }
        #expect(parents.map(\.name) == ["web-parent"])
        let decision = await h.tick(sessionsPerServer: 10)
        #expect(decision.from == 1 && decision.action == .hold)
    }
}

@Suite struct BalancerReloadTests {
    @Test func serversLostWhileRunningAreRegisteredAgainAtTheNextTick() async throws {
        let h = try ControllerHarness()
        try await h.controller.recover()
        await h.tick(sessionsPerServer: 20)
        let clone = try #require(try h.clones(.serving).first)
        // HAProxy restarted: its dynamic servers are gone, the clone still runs.
        try await h.balancer.remove(backend: "app", server: clone.name)
        h.advance(2)
        await h.tick(sessionsPerServer: 10)
        #expect(try await h.serverNames() == [clone.name])
        #expect(try h.clones(.serving).map(\.name) == [clone.name])
        let events = try h.store.events(pool: "web", since: nil, limit: 100).map(\.event.message)
        #expect(events.contains { $0.contains("missing from app") })
    }
}
