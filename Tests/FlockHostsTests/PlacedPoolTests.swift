import FlockController
import FlockCore
import FlockDaemon
import FlockHostRig
import FlockQEMU
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Logging
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
        let stale = "\(parent.name)-g0-lazy"
        for round in 1...2 {
            if round == 2 {
                // An older snapshot of this parent that no clone on h64 maps (its clones all
                // failed, say), stood in for by the current one shipped under that id.
                var old = try await driver.exportSnapshot(ofParent: parent.name)
                let current = old.record.id
                old.record.id = stale
                _ = try await members[0].host.ensureSnapshot(old, logPath: scratch.path("stale-ship.log"))
                await driver.releaseExport(current)
                #expect(try await members[0].host.holds(stale))
            }
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

        #expect(try await members[0].host.holds(stale) == false, "the next batch releases a stale snapshot")

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

        // Operators see each host: its VMs and the snapshot it holds, and what shipping cost.
        let statuses = await placing.hostStatuses()
        #expect(statuses.map(\.name) == ["h64", "h65"], "\(statuses)")
        let metrics = DaemonMetrics.render()
        for status in statuses {
            #expect(status.reachable && status.lost == nil && status.lastError == nil, "\(status)")
            #expect(status.vms == 2, "\(status)")
            #expect(status.snapshots == Array(Set(transfers.map(\.snapshot))), "\(status)")
            #expect(metrics.contains("flock_host_up{pool=\"pl\",host=\"\(status.name)\"} 1"), "\(status.name)")
            let shipped = transfers.filter { $0.host == status.name && $0.transfer.shipped }.map(\.transfer.bytes)
            #expect(
                metrics.contains(
                    "flock_snapshot_transfer_bytes_total{pool=\"pl\",host=\"\(status.name)\"} \(shipped.reduce(0, +))"),
                "\(status.name): \(shipped)")
            #expect(metrics.contains("flock_snapshot_transfer_seconds_count{pool=\"pl\",host=\"\(status.name)\"} 1"))
        }

        // Every clone's placement is in the pool's events, with the host and why.
        let events = try store.events(pool: "pl", since: nil, limit: 500).map(\.event.message)
        for clone in serving {
            let home = await placing.home(of: clone.name) ?? "?"
            #expect(
                events.contains { $0.hasPrefix("\(clone.name) placed on \(home): spread: ") }, "\(events)")
        }
        #expect(events.contains { $0.contains("holds the snapshot") }, "the second batch found it held: \(events)")

        // Hosts without room are skipped, each with why, and a clone none can take fails saying so.
        var tight = members
        tight[0].maxVMs = 2
        tight[1].maxMemoryBytes = 256 << 20
        let full = PlacingHypervisor(
            pool: "pl", local: driver, includesLocal: false, members: tight, strategy: .spread,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            let batch = try await full.clone(
                CloneRequest(pool: "pl", parent: parent.name, mode: .lazy, names: ["flock-pl-full1"]))
            Issue.record("placed on a full host: \(batch)")
        } catch {
            let message = "\(error)"
            #expect(message.contains("not placed: no host has room for another clone of 256 MiB"), "\(message)")
            #expect(message.contains("h64: full: 2 VM(s), its limit is 2"), "\(message)")
            #expect(
                message.contains("h65: full: 3 VM(s) of 256 MiB would pass its memory limit of 256 MiB"), "\(message)")
        }

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
