import FlockCore
import FlockQEMU
import FlockStore
import FlockTestSupport
import Foundation

/// Everything the fault suite compares after a fault, read from each source of truth on its
/// own: flockd's store, the QEMU processes under the state root (from /proc, not from any
/// driver's records), the driver's VM records, HAProxy's servers, the parent's QMP status and
/// the snapshot directories.
struct PoolPicture: CustomStringConvertible {
    /// Store instances of the pool that are not gone: name → state (the parent included).
    var store: [String: InstanceState] = [:]
    /// Open journal intents, as `action(instance)`.
    var openIntents: [String] = []
    /// VM name → the pids of the QEMU processes that run for it under the state root.
    var qemu: [String: [Int32]] = [:]
    /// Clone VM records under the state root: name → driver status.
    var records: [String: VMInfo.Status] = [:]
    /// The snapshot each clone record was restored from.
    var snapshotsInUse: Set<String> = []
    /// Directories under `<state root>/snapshots`.
    var snapshotDirectories: Set<String> = []
    /// HAProxy server name → `status` column of `show stat` (`flock-` servers and the parent).
    var servers: [String: String] = [:]
    /// The parent's `query-status` answer (`running`, `paused`, `postmigrate`, …).
    var parentStatus: String = "unknown"
    /// What could not be read, so a picture never hides a failure to look.
    var unreadable: [String] = []

    var parent = SharedParent.name

    var storeClones: Set<String> { Set(store.keys.filter { $0 != parent }) }
    var qemuClones: Set<String> { Set(qemu.keys.filter { $0 != parent }) }
    var flockServers: Set<String> { Set(servers.keys.filter { $0.hasPrefix(OwnedName.prefix) }) }

    /// Why this is not a converged pool of `clones` serving clones and `standbys` standbys (paused,
    /// never in HAProxy); empty when it is.
    func problems(clones expected: Int?, standbys: Int = 0) -> [String] {
        var found = unreadable
        let waiting = Set(store.filter { $0.value == .standby }.keys)
        let transitional = store.filter { $0.value != .serving && $0.value != .standby }
        if !transitional.isEmpty {
            found.append("not serving in the store: \(transitional.map { "\($0.key)=\($0.value.rawValue)" }.sorted())")
        }
        if store[parent] == nil { found.append("the store has no parent instance \(parent)") }
        if !openIntents.isEmpty { found.append("open journal intents: \(openIntents)") }
        if qemu[parent]?.count != 1 {
            found.append("\(qemu[parent]?.count ?? 0) QEMU process(es) for the parent, not 1")
        }
        if parentStatus != "running" { found.append("the parent's QEMU is \(parentStatus), not running") }
        if servers[parent] != "UP" { found.append("the parent's HAProxy server is \(servers[parent] ?? "missing")") }
        let names = storeClones
        if qemuClones != names { found.append("QEMU clones \(qemuClones.sorted()) ≠ store \(names.sorted())") }
        if qemu.values.contains(where: { $0.count > 1 }) { found.append("a VM runs more than one QEMU: \(qemu)") }
        let recorded = Set(records.keys)
        if recorded != names { found.append("VM records \(recorded.sorted()) ≠ store \(names.sorted())") }
        let notRunning = records.filter { $0.value != (waiting.contains($0.key) ? .paused : .running) }
        if !notRunning.isEmpty {
            found.append("clone VMs not running (standbys not paused): \(notRunning.mapValues(\.rawValue))")
        }
        if waiting.count != standbys { found.append("\(waiting.count) standby(s), not \(standbys)") }
        let serving = names.subtracting(waiting)
        if flockServers != serving {
            found.append("HAProxy flock- servers \(flockServers.sorted()) ≠ serving in the store \(serving.sorted())")
        }
        let notUp = servers.filter { $0.key.hasPrefix(OwnedName.prefix) && $0.value != "UP" }
        if !notUp.isEmpty { found.append("flock- servers not UP: \(notUp.sorted { $0.key < $1.key })") }
        let unused = snapshotDirectories.subtracting(snapshotsInUse)
        if !unused.isEmpty { found.append("snapshots no clone uses: \(unused.sorted())") }
        if let expected, serving.count != expected { found.append("\(serving.count) clone(s), not \(expected)") }
        return found
    }

    var description: String {
        let states = store.map { "\($0.key)=\($0.value.rawValue)" }.sorted()
        return """
            store \(states); open intents \(openIntents); QEMU processes \(qemu.sorted { $0.key < $1.key }); \
            VM records \(records.mapValues(\.rawValue).sorted { $0.key < $1.key }); parent QMP \(parentStatus); \
            haproxy \(servers.sorted { $0.key < $1.key }); snapshots \(snapshotDirectories.sorted()) \
            (in use \(snapshotsInUse.sorted()))\(unreadable.isEmpty ? "" : "; unreadable: \(unreadable)")
            """
    }
}

extension E2E {
    /// Reads every source of truth now (the pool's servers in `backend`, the test HAProxy's own
    /// by default). Never throws: what cannot be read is in `unreadable`.
    func poolPicture(backend: String? = nil) async -> PoolPicture {
        let backend = backend ?? haproxy.backend
        var picture = PoolPicture()
        do {
            let store = try store()
            for instance in try store.instances(pool: pool) { picture.store[instance.name] = instance.state }
            picture.openIntents = try store.openIntents(pool: pool).map { "\($0.action)(\($0.instance ?? "-"))" }
        } catch {
            picture.unreadable.append("store: \(error)")
        }
        picture.qemu = Self.qemuProcesses(stateRoot: parent.stateRoot)
        for vm in await parent.clones() {
            picture.records[vm.name] = vm.status
            if let snapshot = vm.lineage.snapshot { picture.snapshotsInUse.insert(snapshot) }
        }
        let snapshots = "\(parent.stateRoot)/snapshots"
        picture.snapshotDirectories = Set((try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? [])
        do {
            let table = try await haproxy.client.showStat(backend: backend)
            for row in table.servers(of: backend) { picture.servers[row.server] = row["status"] ?? "?" }
        } catch {
            picture.unreadable.append("haproxy: \(error)")
        }
        do {
            picture.parentStatus = try await parentQMP()
        } catch {
            picture.unreadable.append("parent QMP: \(error)")
        }
        return picture
    }

    /// Runs `command`, if any, on the parent's own QMP socket (flockd's driver connects per
    /// operation, so the socket is free between them), then returns its `query-status` status.
    func parentQMP(_ command: String? = nil) async throws -> String {
        let qmp = try await QMPClient.connect(path: parentQMPSocket, timeout: .seconds(3))
        defer { qmp.close() }
        if let command { _ = try await qmp.execute(command) }
        return try await qmp.execute("query-status")["status"]?.stringValue ?? "unknown"
    }

    var parentQMPSocket: String { "\(parent.stateRoot)/vms/\(parent.name)/qmp.sock" }

    /// Waits (bounded) until the pool has converged with `clones` serving clones (nil: any
    /// number) and the policy's standbys; returns nil then, else the problems and the full
    /// picture, for the failure message.
    func convergence(clones: Int?, backend: String? = nil, timeout: Duration = .seconds(90)) async -> String? {
        var last = PoolPicture()
        let standbys = policy.standby ?? 0
        let converged = await eventually(timeout: timeout, every: .milliseconds(500)) {
            last = await poolPicture(backend: backend)
            return last.problems(clones: clones, standbys: standbys).isEmpty
        }
        guard !converged else { return nil }
        return "not converged: \(last.problems(clones: clones, standbys: standbys).joined(separator: "; "))"
            + "\npicture: \(last)"
            + "\nflockd log tail:\n\(flockd.log.suffix(3000))"
    }

    /// QEMU processes whose command line names a VM directory under `stateRoot`, by VM name:
    /// the processes themselves, whatever any record says.
    static func qemuProcesses(stateRoot: String) -> [String: [Int32]] {
        var pids: [String: [Int32]] = [:]
        let marker = "\(stateRoot)/vms/"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry) else { continue }
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else {
                continue
            }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let executable = words.first, executable.contains("qemu-system"),
                let qmp = words.first(where: { $0.contains(marker) && $0.contains("qmp.sock") }),
                let range = qmp.range(of: marker)
            else { continue }
            let name = qmp[range.upperBound...].prefix { $0 != "/" }
            pids[String(name), default: []].append(pid)
        }
        return pids
    }
}
