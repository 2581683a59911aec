import FlockCore
import Testing

/// Placement over host reports: spread, pack, snapshot locality, limits, and hosts passed over
/// with the reason.
@Suite struct PlacementTests {
    static let gib = 1 << 30
    static let clone = 256 << 20

    func host(
        _ name: String, memory: Int = 8 * gib, cores: Int = 4, load: Double = 0, vms: Int = 0,
        snapshots: Set<String> = [], maxVMs: Int? = nil, maxMemory: Int? = nil
    ) -> Placement.HostReport {
        Placement.HostReport(
            name: name, memAvailableBytes: memory, cores: cores, load: load, vms: vms, snapshots: snapshots,
            maxVMs: maxVMs, maxMemoryBytes: maxMemory)
    }

    func plan(
        _ clones: Int, _ hosts: [Placement.HostReport], strategy: Placement.Strategy = .spread, snapshot: String? = "s1"
    )
        -> Placement.Plan
    {
        Placement.plan(
            Placement.Request(clones: clones, memoryBytes: Self.clone, snapshot: snapshot, strategy: strategy),
            hosts: hosts)
    }

    @Test func spreadAlternatesBetweenEqualHosts() {
        let result = plan(4, [host("b1"), host("b2")])
        #expect(result.choices.map(\.host) == ["b1", "b2", "b1", "b2"])
        #expect(result.unplaced == nil && result.skipped.isEmpty)
        #expect(result.choices[0].reason.hasPrefix("spread: 0 VM(s) there before this one"), "\(result.choices[0])")
        #expect(result.choices[2].reason.hasPrefix("spread: 1 VM(s) there before this one"))
    }

    @Test func spreadEvensOutHostsThatAlreadyRunVMs() {
        let result = plan(3, [host("local", vms: 3), host("b1", vms: 1), host("b2")])
        #expect(result.choices.map(\.host).sorted() == ["b1", "b2", "b2"])
    }

    @Test func packFillsOneHostFirst() {
        let result = plan(3, [host("b1"), host("b2", vms: 1)], strategy: .pack)
        #expect(result.choices.map(\.host) == ["b2", "b2", "b2"])
        #expect(result.choices[0].reason.hasPrefix("pack: 1 VM(s) there before this one"))
    }

    @Test func packMovesOnWhenTheHostIsFull() {
        let result = plan(3, [host("b1", vms: 1, maxVMs: 2), host("b2")], strategy: .pack)
        #expect(result.choices.map(\.host) == ["b1", "b2", "b2"])
    }

    @Test func aHostHoldingTheSnapshotIsPreferredAndSaysSo() {
        let result = plan(1, [host("b1"), host("b2", snapshots: ["s1"])])
        #expect(result.choices.map(\.host) == ["b2"])
        #expect(result.choices[0].reason.hasSuffix("holds the snapshot"))
        let fresh = plan(1, [host("b1"), host("b2", snapshots: ["s0"])])
        #expect(fresh.choices.map(\.host) == ["b1"])
        #expect(fresh.choices[0].reason.hasSuffix("the snapshot must ship there"))
    }

    @Test func moreHeadroomWinsUnderSpread() {
        let busy = plan(1, [host("b1", cores: 2, load: 1.9), host("b2", cores: 2, load: 0.1)])
        #expect(busy.choices.map(\.host) == ["b2"])
        let tight = plan(1, [host("b1", memory: 1 * Self.gib), host("b2", memory: 4 * Self.gib)])
        #expect(tight.choices.map(\.host) == ["b2"])
    }

    @Test func unreachableAndIncompatibleHostsAreSkippedWithWhy() {
        var down = host("b1")
        down.reachable = false
        down.problem = "the session with root@10.0.0.1:22 dropped"
        var other = host("b2")
        other.incompatibility = "CPU model max in the snapshot, qemu64 here"
        let result = plan(2, [down, other, host("local")])
        #expect(result.choices.map(\.host) == ["local", "local"])
        #expect(result.skipped["b1"] == "unreachable: the session with root@10.0.0.1:22 dropped")
        #expect(result.skipped["b2"] == "incompatible: CPU model max in the snapshot, qemu64 here")
    }

    @Test func hostsWithoutRoomAreSkippedAndTheRestUnplaced() {
        let small = host("b1", memory: Self.clone + Placement.memoryReserve + 10)
        let limited = host("b2", vms: 2, maxVMs: 2)
        let capped = host("b3", vms: 1, maxMemory: 2 * Self.clone)
        let result = plan(3, [small, limited, capped])
        #expect(result.choices.map(\.host).sorted() == ["b1", "b3"])
        #expect(result.unplaced == "no host has room for another clone of 256 MiB")
        #expect(result.skipped["b2"] == "full: 2 VM(s), its limit is 2")
        #expect(result.skipped["b1"] == nil && result.skipped["b3"] == nil, "they took clones: \(result.skipped)")
        let none = plan(1, [limited])
        #expect(none.choices.isEmpty && none.skipped["b2"] != nil)
        let noMemory = plan(1, [host("b1", memory: 300 << 20)])
        #expect(noMemory.skipped["b1"] == "no room: 300 MiB available, a clone needs 256 MiB and 256 MiB stay free")
        let pastLimit = plan(1, [host("b1", vms: 2, maxMemory: 2 * Self.clone)])
        #expect(pastLimit.skipped["b1"] == "full: 3 VM(s) of 256 MiB would pass its memory limit of 512 MiB")
    }

    @Test func noHostsMeansNothingPlaced() {
        let result = plan(2, [])
        #expect(result.choices.isEmpty && result.unplaced == "no host can take a clone")
    }
}
