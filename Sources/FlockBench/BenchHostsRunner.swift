import FlockCore
import FlockHostRig
import FlockHosts
import FlockQEMU
import Foundation
import Logging
import Synchronization

/// One lazy clone as `bench hosts` timed it.
struct HostsCloneSample: Sendable {
    /// `local`, or the namespace host's member name (`h71`).
    var host: String
    /// From the decision (the clone call) to its return: the agent's ack.
    var ackMs: Double
    /// From the decision to the first HTTP 200 on `/healthz`, probed from the ack on (a remote
    /// clone's address is known only then; same-host clones are probed the same way).
    var servingMs: Double
    /// The first request for each warmed key, and how many hit the inherited cache.
    var warmMs: [Double]
    var warmHits: Int
    /// The parent's requests for the same keys, right after: the same moment's load.
    var parentMs: [Double]
    /// Bytes on the host's veth (rx + tx) from the decision to the ack; nil on the parent's host.
    var vethBytes: Int?
}

/// One batch of lazy clones over several hosts, as `bench hosts` timed it.
struct HostsBatchSample: Sendable {
    var names: [String]
    /// From the decision to the batch's return: every host's agents acked.
    var ackMs: Double
    /// Per clone: from the decision to its first HTTP 200, probed from the batch's return on.
    var servingMs: [Double]
    var warmHits: Int
    var warmRequests: Int
}

/// Drives one `bench hosts` run on a `HostRig`: two namespace hosts and the parent's network,
/// a warm parent, its lazy snapshot pinned for the run, then (1) the first clone on each host,
/// which ships the snapshot and stays so the host keeps holding it, (2) rounds of one same-host
/// lazy clone and one clone on each holding host, in a rotating order, (3) 8 clones over both.
public final class BenchHostsRunner: Sendable {
    /// The namespace hosts' indexes: subnets 10.231.71/72 and 10.232.71/72.
    public static let hostIndexes = [71, 72]
    public static let eightClones = 8

    let spec: VMSpec
    let rounds: Int
    let keys: [String]
    let flockctl: String
    let root: String
    let rig: HostRig
    let makeDriver: @Sendable (_ networkNamespace: String) -> QEMUDriver
    let progress: @Sendable (String) -> Void
    /// What `cleanUp` must stop and close, once made.
    private let live = Mutex<(driver: QEMUDriver?, members: [PlacingHypervisor.Member])>((nil, []))

    /// The parent's driver, made by `makeDriver` for the parent network's namespace, must use
    /// `root` as its state root. The rig's files (keys, sshd configs and logs) go to a private
    /// directory under the temporary directory, not `root`: the hosts mount their own /dev/shm.
    public init(
        spec: VMSpec, rounds: Int, keys: Int, flockctl: String, root: String,
        makeDriver: @escaping @Sendable (String) -> QEMUDriver, progress: @escaping @Sendable (String) -> Void
    ) {
        self.spec = spec
        self.rounds = rounds
        self.keys = (0..<keys).map { "bench-warm-\($0)" }
        self.flockctl = flockctl
        self.root = root
        rig = HostRig()
        rigDirectory =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "flock-bench-hosts-\(rig.tag)-\(UUID().uuidString.prefix(8))"
            ).path
        self.makeDriver = makeDriver
        self.progress = progress
    }

    /// Where the rig's files are; removed by `cleanUp`.
    public let rigDirectory: String

    public func run() async throws -> BenchHostsReport {
        let loadAtStart = BenchMachine.loadAverage()
        progress("making \(Self.hostIndexes.count) namespace hosts with sshd, and the parent's network")
        let (sshKeys, hosts) = try await rig.makeHosts(indexes: Self.hostIndexes, directory: rigDirectory)
        let parentNetwork = try await rig.makeParentNetwork()
        let driver = makeDriver(parentNetwork.namespace)
        live.withLock { $0.driver = driver }
        var parentSpec = spec
        parentSpec.network = parentNetwork.network

        progress("booting the parent (\(spec.memoryMiB) MiB) and warming \(keys.count) key(s)")
        let parent = try await driver.startParent(parentSpec)
        guard let parentAddress = parent.address else {
            throw BenchHTTP.Failure(description: "the parent has no address on its bridge")
        }
        let parentPort = parent.port ?? spec.guestPort
        for key in keys {
            _ = try await BenchHTTP.get(parentAddress, parentPort, "/item/\(key)", timeout: .seconds(60))
        }
        // One snapshot for the whole run, pinned: every clone, here or there, restores from it,
        // so no clone pays a parent pause and each host needs it shipped once.
        // Released at the end; on a failure, `cleanUp` stops the parent and its snapshots go with it.
        let exported = try await driver.exportSnapshot(ofParent: parent.name)

        let members = hosts.map { $0.member(keys: sshKeys, flockctl: flockctl) }
        let logger = Logger(label: "flock-bench.hosts", factory: { _ in SwiftLogNoOpLogHandler() })
        let single = members.map {
            PlacingHypervisor(
                pool: spec.pool, local: driver, includesLocal: false, members: [$0], strategy: .spread, logger: logger)
        }
        let both = PlacingHypervisor(
            pool: spec.pool, local: driver, includesLocal: false, members: members, strategy: .spread, logger: logger)
        live.withLock { $0.members = members }
        let measure = HostsCloneMeasure(
            spec: spec, parent: parent, parentEndpoint: (parentAddress, parentPort), keys: keys)

        // Each host's SSH session (ssh, then `flockctl host serve` answering hello) opens before the
        // clock starts, as a host in service has one open: a new host's first clone then counts
        // the transfer and the restore, and the session's start is reported on its own.
        var sessionStartMs: [String: Double] = [:]
        for (host, member) in zip(hosts, members) {
            let started = ContinuousClock.now
            _ = try await member.host.hello()
            sessionStartMs[memberName(host)] = BenchMath.milliseconds(ContinuousClock.now - started)
        }

        // (1) The first clone on each host: the transfer, then the restore. It stays running: a
        // host deletes an imported snapshot when its last clone there goes.
        var firstOnHost: [HostsCloneSample] = []
        var transfers: [String: RemoteHost.Transfer] = [:]
        for (index, host) in hosts.enumerated() {
            let name = memberName(host)
            progress("first clone on \(name): ships the snapshot")
            firstOnHost.append(
                try await measure.clone(
                    via: single[index], host: name, veth: host,
                    name: OwnedName.make(pool: spec.pool, suffix: "first\(name)")))
            guard let trip = await single[index].transfers.last, trip.transfer.shipped else {
                throw BenchHTTP.Failure(description: "the first clone on \(name) did not ship the snapshot")
            }
            transfers[name] = trip.transfer
        }

        // (2) Rounds: one same-host clone and one on each holding host, the order rotating. Every
        // clone stays until the end, so each gets an address no VM had in this run: a clone on an
        // address freed seconds before finds the previous VM's MAC in its neighbours' caches, and
        // its first SYNs go nowhere until its gratuitous ARP lands (about 200 ms, measured), which
        // would count against whichever side reused more addresses, not against the clone.
        var kept: [(via: any Hypervisor, name: String)] = []
        var local: [HostsCloneSample] = []
        var held: [HostsCloneSample] = []
        var heldTransferBytes: [Int] = []
        let places: [Int?] = [nil] + hosts.indices.map { $0 }
        for round in 0..<rounds {
            let order = Array(places[(round % places.count)...] + places[..<(round % places.count)])
            for place in order {
                let suffix = "r\(round)\(place.map { memberName(hosts[$0]) } ?? "local")"
                let name = OwnedName.make(pool: spec.pool, suffix: suffix)
                if let place {
                    progress(
                        "round \(round + 1)/\(rounds): a clone on \(memberName(hosts[place])), which holds the snapshot"
                    )
                    held.append(
                        try await measure.clone(
                            via: single[place], host: memberName(hosts[place]), veth: hosts[place], name: name))
                    kept.append((single[place], name))
                    guard let trip = await single[place].transfers.last, !trip.transfer.shipped else {
                        throw BenchHTTP.Failure(
                            description: "\(memberName(hosts[place])) shipped the snapshot again: it should hold it")
                    }
                    heldTransferBytes.append(trip.transfer.bytes)
                } else {
                    progress("round \(round + 1)/\(rounds): a clone on the parent's host")
                    local.append(try await measure.clone(via: driver, host: "local", veth: nil, name: name))
                    kept.append((driver, name))
                }
            }
        }

        // (3) Eight clones over both hosts in one batch, spread, both holding the snapshot; the
        // clones above still run, as a pool's earlier clones would.
        progress("\(Self.eightClones) clones over \(hosts.count) hosts")
        let eight = try await measure.batch(via: both, count: Self.eightClones, suffix: "eight")
        var perHost: [String: Int] = [:]
        for name in eight.names { perHost[await both.home(of: name) ?? "?", default: 0] += 1 }
        for name in eight.names { try await both.destroy(name: name) }
        for (index, host) in hosts.enumerated() {
            try await single[index].destroy(name: OwnedName.make(pool: spec.pool, suffix: "first\(memberName(host))"))
        }
        for (hypervisor, name) in kept { try await hypervisor.destroy(name: name) }
        await driver.releaseExport(exported.record.id)

        return BenchHostsReport(
            machine: BenchMachine.describe(accelerator: parent.accelerator.rawValue, loadAtStart: loadAtStart),
            rounds: rounds, memoryMiB: spec.memoryMiB, snapshotPauseMs: exported.record.pauseMilliseconds,
            local: local, held: held, firstOnHost: firstOnHost, transfers: transfers,
            heldTransferBytes: heldTransferBytes, sessionStartMs: sessionStartMs, eight: eight, eightPerHost: perHost)
    }

    private func memberName(_ host: NamespaceHost) -> String { "h\(host.index)" }

    /// Stops every VM (the hosts' go with their namespaces), closes the SSH sessions, removes the
    /// rig (namespaces, veths, sshd) and its files; errors are ignored, the reaper follows.
    public func cleanUp() async {
        let (driver, members) = live.withLock { ($0.driver, $0.members) }
        for member in members { await member.host.close() }
        await driver?.stopEveryVM()
        await rig.destroy()
        try? FileManager.default.removeItem(atPath: rigDirectory)
    }
}

/// How `bench hosts` times a clone, here or on another host, the same way for both.
struct HostsCloneMeasure: Sendable {
    let spec: VMSpec
    let parent: VMRecord
    let parentEndpoint: (String, Int)
    let keys: [String]

    /// One lazy clone through `hypervisor`: decision → ack → first 200, then the first request
    /// for each warmed key on it and on the parent. It keeps running: the caller destroys it.
    func clone(
        via hypervisor: any Hypervisor, host: String, veth: NamespaceHost?, name: String
    ) async throws -> HostsCloneSample {
        let before = veth?.vethBytes()
        let started = ContinuousClock.now
        let batch = try await hypervisor.clone(
            CloneRequest(pool: spec.pool, parent: parent.name, mode: .lazy, names: [name]))
        let ackMs = BenchMath.milliseconds(ContinuousClock.now - started)
        let bytes = before.map { (veth?.vethBytes() ?? $0) - $0 }
        guard let vm = batch.started.first, let address = vm.address else {
            throw BenchHTTP.Failure(description: "clone \(name) on \(host): \(batch.failed[name] ?? "no address")")
        }
        let port = vm.port ?? spec.guestPort
        guard let servingMs = await BenchFirstOK.poll(address, port, since: started, until: started + .seconds(300))
        else { throw BenchHTTP.Failure(description: "clone \(name) on \(host) never answered /healthz") }
        let (warm, hits, parentMs) = try await warmRequests(address, port)
        return HostsCloneSample(
            host: host, ackMs: ackMs, servingMs: max(servingMs, ackMs), warmMs: warm, warmHits: hits,
            parentMs: parentMs, vethBytes: bytes)
    }

    /// `count` lazy clones in one batch through `hypervisor`: decision → every clone's first 200.
    func batch(via hypervisor: any Hypervisor, count: Int, suffix: String) async throws -> HostsBatchSample {
        let names = (0..<count).map { OwnedName.make(pool: spec.pool, suffix: "\(suffix)\($0)") }
        let started = ContinuousClock.now
        let batch = try await hypervisor.clone(
            CloneRequest(pool: spec.pool, parent: parent.name, mode: .lazy, names: names))
        let ackMs = BenchMath.milliseconds(ContinuousClock.now - started)
        guard batch.failed.isEmpty, batch.started.count == count else {
            let reasons = batch.failed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            throw BenchHTTP.Failure(
                description: "\(batch.started.count)/\(count) clones started; \(reasons.joined(separator: "; "))")
        }
        let endpoints = batch.started.compactMap { vm in vm.address.map { ($0, vm.port ?? spec.guestPort) } }
        let firsts = await withTaskGroup(of: Double?.self) { group in
            for (address, port) in endpoints {
                group.addTask { await BenchFirstOK.poll(address, port, since: started, until: started + .seconds(300)) }
            }
            var values: [Double?] = []
            for await value in group { values.append(value) }
            return values
        }
        let serving = firsts.compactMap { $0 }
        guard serving.count == count else {
            throw BenchHTTP.Failure(description: "\(serving.count)/\(count) clones answered /healthz")
        }
        var hits = 0
        for (address, port) in endpoints { hits += try await warmRequests(address, port).hits }
        return HostsBatchSample(
            names: batch.started.map(\.name), ackMs: ackMs, servingMs: serving.map { max($0, ackMs) },
            warmHits: hits, warmRequests: count * keys.count)
    }

    /// The first request for each warmed key on the clone, then the parent's for the same keys.
    private func warmRequests(
        _ address: String, _ port: Int
    ) async throws -> (warm: [Double], hits: Int, parent: [Double]) {
        var warm: [Double] = []
        var hits = 0
        for key in keys {
            let response = try await BenchHTTP.get(address, port, "/item/\(key)", timeout: .seconds(60))
            warm.append(response.milliseconds)
            if response.headers["x-cache"] == "hit" { hits += 1 }
        }
        var parentMs: [Double] = []
        for key in keys {
            parentMs.append(
                try await BenchHTTP.get(parentEndpoint.0, parentEndpoint.1, "/item/\(key)", timeout: .seconds(60))
                    .milliseconds)
        }
        return (warm, hits, parentMs)
    }
}
