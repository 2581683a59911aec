import FlockController
import FlockCore
import FlockDaemon
import FlockHostRig
import FlockQEMU
import FlockStore
import FlockSystem
import FlockTestSupport
import Foundation
import Testing

@testable import FlockHosts

extension HostsTests {
    /// A pool spread over two namespace hosts loses one (its link goes down; its VMs run on, cut
    /// off): past the host's grace its clone fails with a cause naming the host, its server is
    /// removed, it reaches `gone` although nothing can reach it, and the next decision places the
    /// replacement on the other host, which serves. The time from the cut to that is printed.
    /// When the link comes back, the clone left there is destroyed as an orphan, and the host's
    /// copy of the snapshot goes with it.
    @Test func aLostHostsClonesAreReplacedAndItsLeftoversReconciledOnReturn() async throws {
        let scratch = try Scratch(prefix: "flock-lost")
        let keys = try await RigKeys(directory: scratch.dir.path)
        try await Self.withTopology(
            [66, 67], scratch: scratch, start: { try await $0.startSSHD(clientKey: try keys.publicKey) }
        ) {
            parentNet, root, hosts in
            try await runLostHost(scratch: scratch, keys: keys, parentNet: parentNet, root: root, hosts: hosts)
        }
    }

    private func runLostHost(
        scratch: Scratch, keys: RigKeys, parentNet: ParentNetwork, root: String, hosts: [NamespaceHost]
    ) async throws {
        let (driver, parent) = try await Self.warmParent(pool: "lh", root: root, parentNet: parentNet, keys: ["k1"])
        let lostAfter = Duration.seconds(5)
        let pool = try await PlacedPool(
            pool: "lh", scratch: scratch, keys: keys, hosts: hosts, driver: driver, parent: parent, max: 3,
            lostAfter: lostAfter, settings: .init(orphanGrace: .seconds(2)))
        let (placing, store, controller) = (pool.placing, pool.store, pool.controller)

        // One clone on each host (spread), both serving.
        func serving() throws -> [Instance] {
            try store.instances(pool: "lh").filter { $0.role == .clone && $0.state == .serving }
        }
        for _ in 0..<5 {
            _ = try await pool.overloadedTick()
            await controller.settle()
            if try serving().count == 2 { break }
        }
        let before = try serving()
        #expect(before.count == 2, "\((try? store.instances(pool: "lh")) ?? [])")
        var homes: [String: String] = [:]
        for clone in before { homes[clone.name] = await placing.home(of: clone.name) }
        #expect(Set(homes.values) == ["h66", "h67"], "\(homes)")
        let victim = try #require(homes.first { $0.value == "h67" }?.key)
        let lostHost = try #require(hosts.first { $0.index == 67 })
        let lostMember = try #require(pool.members.first { $0.name == "h67" })
        let snapshot = try #require(before.first?.lineage.snapshot)

        // The cut: h67's link goes down; its VMs and sshd run on, unreachable.
        try await lostHost.setLink(up: false)
        let cut = ContinuousClock.now
        var converged: Duration?
        var failed: Duration?
        for _ in 0..<40 {
            _ = try await pool.overloadedTick()
            await controller.settle()
            let now = try serving()
            let state = try store.instance(named: victim)?.state
            if failed == nil, state == .failed || state == .gone { failed = ContinuousClock.now - cut }
            let gone = state == .gone
            var onH66 = 0
            for clone in now where await placing.home(of: clone.name) == "h66" { onH66 += 1 }
            if gone && now.count == 2 && onH66 == 2 {
                converged = ContinuousClock.now - cut
                break
            }
        }
        let took = try #require(converged, "never converged: \((try? store.instances(pool: "lh")) ?? [])")
        let seconds = String(format: "%.1f s (its clone failed after %.1f s)", took.seconds, failed?.seconds ?? 0)
        print("lost host: h67's clone replaced on h66, converged in \(seconds), lost_after \(lostAfter.flockText)")

        // Operators see the loss: the host's status and `flock_host_up`.
        let statuses = await placing.hostStatuses()
        let lostStatus = try #require(statuses.first { $0.name == "h67" })
        #expect(!lostStatus.reachable && lostStatus.lost?.hasPrefix("host h67 lost: ") == true, "\(lostStatus)")
        #expect(lostStatus.lastError?.hasPrefix("listing VMs: ") == true, "\(lostStatus)")
        #expect(statuses.first { $0.name == "h66" }?.reachable == true, "\(statuses)")
        #expect(DaemonMetrics.render().contains("flock_host_up{pool=\"lh\",host=\"h67\"} 0"))

        // The clone failed saying which host was lost, its server is gone, the replacement serves.
        let record = try #require(try store.instance(named: victim))
        #expect(record.failure?.hasPrefix("host h67 lost: no answer for ") == true, "\(record.failure ?? "-")")
        let events = try store.events(pool: "lh", since: nil, limit: 500).map(\.event.message)
        #expect(events.contains { $0.hasPrefix("\(victim): host h67 lost: ") }, "\(events)")
        let servers = try await pool.balancer.servers(backend: "app").map(\.name)
        #expect(!servers.contains(victim), "\(servers)")
        for clone in try serving() {
            let address = try #require(clone.address)
            #expect(address.hasPrefix("10.232.66."), "\(clone.name) at \(address)")
            let hit = try await PlainHTTP.get(host: address, port: 8080, "/item/k1", timeout: .seconds(30))
            #expect(hit.status == 200, "\(clone.name) serves")
        }

        // The return: the link comes back; the clone left on h67 is an orphan, destroyed, and the
        // last clone there takes h67's copy of the snapshot with it.
        try await lostHost.setLink(up: true)
        let reconciled = await eventually(timeout: .seconds(90), every: .milliseconds(200)) {
            _ = try? await pool.overloadedTick()
            await controller.settle()
            guard let left = try? await lostMember.host.list(deadline: .seconds(5)) else { return false }
            return !left.contains { $0.name == victim }
        }
        #expect(reconciled, "the clone left on h67 was not destroyed")
        let returned = await placing.hostStatuses().first { $0.name == "h67" }
        #expect(returned?.reachable == true && returned?.lost == nil, "\(String(describing: returned))")
        #expect(DaemonMetrics.render().contains("flock_host_up{pool=\"lh\",host=\"h67\"} 1"))
        let afterReturn = try store.events(pool: "lh", since: nil, limit: 1000).map(\.event.message)
        #expect(
            afterReturn.contains { $0.hasPrefix("\(victim): VM of this pool with no live record in the store") },
            "\(afterReturn)")
        #expect(try await lostMember.host.holds(snapshot) == false, "h67 still holds \(snapshot)")
        let files = try await lostHost.filesInStateRoot().filter { $0.contains("/snapshots/") || $0.contains("/vms/") }
        #expect(files.isEmpty, "\(files)")
        #expect(try serving().count == 2, "the pool stays converged")

        for clone in try serving() { try await placing.destroy(name: clone.name) }
        for member in pool.members { await member.host.close() }
        try await driver.stopParent(name: parent.name)
    }
}
