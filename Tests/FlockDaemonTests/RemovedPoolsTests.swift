import FlockCore
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Logging
import Testing

@testable import FlockDaemon

/// A pool dropped from flockd.yaml leaves clones that no controller runs: start-up reports them,
/// and reclaims them only when told to.
@Suite struct RemovedPoolsTests {
    struct Setup {
        let store: FlockStore
        let hypervisor = InMemoryHypervisor(parents: ["old-parent": "old", "web-parent": "web"])
        let balancer = InMemoryBalancer(backends: ["legacy", "app"])
        let clones: [String]
        var removedPools: RemovedPools {
            RemovedPools(store: store, hypervisors: [hypervisor], balancers: [balancer], logger: Logger(label: "t"))
        }
    }

    /// Pool `old` (backend `legacy`) has two serving clones; pool `web` is still configured.
    func setUp(_ scratch: Scratch) async throws -> Setup {
        let store = try FlockStore(path: scratch.path("flock.db"))
        try store.applyPolicies(
            [
                PolicyChange(pool: "old", backend: "legacy", source: "old", checksum: "old"),
                PolicyChange(pool: "web", backend: "app", source: "web", checksum: "web"),
            ], by: "test", at: Date())
        let setup = Setup(store: store, clones: ["flock-old-0aaa0001", "flock-old-0bbb0002"])
        let batch = try await setup.hypervisor.clone(
            CloneRequest(pool: "old", parent: "old-parent", mode: .lazy, names: setup.clones))
        for vm in batch.started {
            try store.upsert(Instance(name: vm.name, pool: "old", role: .clone, state: .requested, createdAt: Date()))
            for state in [InstanceState.cloning, .booting, .ready, .registering, .serving] {
                try store.transition(instance: vm.name, to: state, at: Date())
            }
            try await setup.balancer.register(
                ServerRegistration(backend: "legacy", name: vm.name, address: vm.address ?? "", port: 8080))
        }
        let other = try await setup.hypervisor.clone(
            CloneRequest(pool: "web", parent: "web-parent", mode: .lazy, names: ["flock-web-0ccc0003"]))
        #expect(other.started.count == 1)
        return setup
    }

    @Test func aRemovedPoolIsReportedAndLeftAlone() async throws {
        let scratch = try Scratch()
        let setup = try await setUp(scratch)
        let found = try await setup.removedPools.handle(configured: ["web"], mode: .report)
        #expect(found.map(\.pool) == ["old"])
        #expect(found.first?.instances == setup.clones)
        #expect(found.first?.vms == setup.clones)
        #expect(found.first?.servers == setup.clones.map { "legacy/\($0)" })
        #expect(try await setup.hypervisor.ownedVMs().count == 3, "nothing destroyed")
        #expect(try await setup.balancer.servers(backend: "legacy").count == 2, "nothing removed")
        let events = try setup.store.events(pool: "old", since: nil, limit: 10).map(\.event.message)
        #expect(events.contains { $0.contains("not in the config") && $0.contains("removed_pools: reclaim") })
    }

    @Test func reclaimRemovesServersThenVMsAndMarksInstancesGone() async throws {
        let scratch = try Scratch()
        let setup = try await setUp(scratch)
        try await setup.removedPools.handle(configured: ["web"], mode: .reclaim)
        #expect(try await setup.balancer.servers(backend: "legacy").isEmpty)
        #expect(try await setup.hypervisor.ownedVMs().map(\.name) == ["flock-web-0ccc0003"], "other pools untouched")
        #expect(try setup.store.instances(pool: "old").isEmpty)
        #expect(try setup.store.instances(pool: "old", includeGone: true).allSatisfy { $0.state == .gone })
        // Nothing left: a second start-up finds nothing to report.
        #expect(try await setup.removedPools.handle(configured: ["web"], mode: .report).isEmpty)
    }

    /// A VM is never destroyed while the balancer may still route to it.
    @Test func aServerThatCannotBeRemovedKeepsItsVM() async throws {
        let scratch = try Scratch()
        let setup = try await setUp(scratch)
        await setup.balancer.refuseRemovals(true)
        try await setup.removedPools.handle(configured: ["web"], mode: .reclaim)
        #expect(try await setup.hypervisor.ownedVMs().count == 3)
        #expect(try setup.store.instances(pool: "old").map(\.state) == [.serving, .serving])
    }
}
