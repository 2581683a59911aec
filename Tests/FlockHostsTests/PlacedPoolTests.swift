import FlockController
import FlockCore
import FlockHostRig
import FlockQEMU
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts

extension HostsTests {
    /// A pool on a `PlacingHypervisor` over two namespace hosts (not the parent's own) scales out
    /// twice by two through its real controller: the clones alternate between the hosts, each
    /// serves a key warmed on the parent from its cache at an address of its host's subnet, and
    /// each host receives the snapshot once (the second batch finds it held). Every clone's
    /// placement is in the pool's events.
    @Test func poolSpreadsClonesOverTwoHostsAndShipsTheSnapshotOncePerHost() async throws {
        let scratch = try Scratch(prefix: "flock-placed")
        let keys = try await RigKeys(directory: scratch.dir.path)
        try await Self.withTopology(
            [64, 65], scratch: scratch, start: { try await $0.startSSHD(clientKey: try keys.publicKey) }
        ) {
            parentNet, root, hosts in
            try await runPlacedPool(scratch: scratch, keys: keys, parentNet: parentNet, root: root, hosts: hosts)
        }
    }

    private func runPlacedPool(
        scratch: Scratch, keys: RigKeys, parentNet: ParentNetwork, root: String, hosts: [NamespaceHost]
    ) async throws {
        let (driver, parent) = try await Self.warmParent(
            pool: "pl", root: root, parentNet: parentNet, keys: ["k1", "k2"])

        let pool = try await PlacedPool(
            pool: "pl", scratch: scratch, keys: keys, hosts: hosts, driver: driver, parent: parent, max: 5)
        let (placing, members, store, controller) = (pool.placing, pool.members, pool.store, pool.controller)

        // Two scale-outs by two (the step), the load far over target each time.
        var serving: [Instance] = []
        for round in 1...2 {
            // The engine waits for a fresh sample and the scale-out cooldown: a few ticks.
            var decision: Decision?
            for _ in 0..<5 {
                decision = try await pool.overloadedTick()
                if decision?.action == .scaleOut { break }
            }
            #expect(decision?.action == .scaleOut, "round \(round): \(decision?.reason ?? "")")
            await controller.settle()
            let instances = try store.instances(pool: "pl")
            serving = instances.filter { $0.role == .clone && $0.state == .serving }
            #expect(serving.count == 2 * round, "round \(round): \(instances)")
        }

        // Alternating: two clones on each host, each at an address of its host's subnet.
        var perHost: [String: Int] = [:]
        for clone in serving {
            let home = try #require(await placing.home(of: clone.name))
            perHost[home, default: 0] += 1
            let index = try #require(hosts.first { "h\($0.index)" == home }?.index)
            let address = try #require(clone.address)
            #expect(address.hasPrefix("10.232.\(index)."), "\(clone.name) on \(home) at \(address)")
            let hit = try await PlainHTTP.get(host: address, port: 8080, "/item/k1", timeout: .seconds(30))
            #expect(hit.headers["x-cache"] == "hit", "\(clone.name) on \(home): a warmed key must hit")
        }
        #expect(perHost == ["h64": 2, "h65": 2], "\(perHost)")

        // Each host received the snapshot once: shipped by the first batch, held for the second.
        let transfers = await placing.transfers
        for host in ["h64", "h65"] {
            let trips = transfers.filter { $0.host == host }
            #expect(trips.map(\.transfer.shipped) == [true, false], "\(host): \(trips)")
            #expect(Set(trips.map(\.snapshot)).count == 1)
            #expect((trips.last?.transfer.bytes ?? .max) <= 1 << 20, "a held snapshot moves next to nothing")
            #expect((trips.first?.transfer.bytes ?? 0) > 16 << 20, "the first trip carries the snapshot's data")
        }

        // Every clone's placement is in the pool's events, with the host and why.
        let events = try store.events(pool: "pl", since: nil, limit: 500).map(\.event.message)
        for clone in serving {
            let home = await placing.home(of: clone.name) ?? "?"
            #expect(
                events.contains { $0.hasPrefix("\(clone.name) placed on \(home): spread: ") }, "\(events)")
        }
        #expect(events.contains { $0.contains("holds the snapshot") }, "the second batch found it held: \(events)")

        // ownedVMs merges the hosts' lists; destroy goes to each clone's host.
        let owned = try await placing.ownedVMs()
        #expect(Set(serving.map(\.name)).isSubset(of: Set(owned.map(\.name))))
        for clone in serving { try await placing.destroy(name: clone.name) }
        let left = try await placing.ownedVMs().filter { $0.pool == "pl" && $0.lineage.snapshot != nil }
        #expect(left.isEmpty, "\(left)")
        for member in members {
            #expect(try await member.host.list().isEmpty)
            await member.host.close()
        }
        try await driver.stopParent(name: parent.name)
    }
}
