import FlockCore
import FlockQEMU
import Foundation
import Metrics

/// What operators see of the hosts: `hostStatuses()` for `flockctl hosts` and `/v1/hosts`, and
/// the Prometheus metrics `flock_host_up`, `flock_snapshot_transfer_bytes_total` and
/// `flock_snapshot_transfer_seconds`.
extension PlacingHypervisor: HostReporting {
    /// What one other host last said and last failed.
    struct Sighting: Sendable {
        var hello: HostHello?
        var vms: Int?
        var lastAnswer: Date?
        var lastError: String?
    }

    /// Asks every host that is not lost for its facts at once (a host that hangs costs at most
    /// `statusDeadline`); a lost one is reported from what it last said, since the background
    /// probe (`probe`) is what finds it again.
    public func hostStatuses() async -> [HostStatus] {
        let asking = members.values.filter { watch.lostCause($0.name) == nil }
        let hellos = await withTaskGroup(of: (String, Result<HostHello, HostError>).self) { group in
            for member in asking {
                group.addTask {
                    do throws(HostError) {
                        return (member.name, .success(try await member.host.hello(deadline: Self.statusDeadline)))
                    } catch {
                        return (member.name, .failure(error))
                    }
                }
            }
            var hellos: [(String, Result<HostHello, HostError>)] = []
            for await hello in group { hellos.append(hello) }
            return hellos
        }
        for (host, result) in hellos {
            switch result {
            case .success(let hello): note(host, hello: hello)
            case .failure(let error): noteFailure(host, "hello", error)
            }
        }
        var statuses = members.keys.sorted().map { host in
            let seen = sightings[host] ?? Sighting()
            let answered = hellos.first { $0.0 == host }.map { if case .success = $0.1 { true } else { false } }
            return HostStatus(
                name: host, pools: [pool], reachable: answered ?? false, lost: watch.lostCause(host),
                vms: seen.vms, memAvailableBytes: seen.hello?.memAvailableBytes, cores: seen.hello?.cores,
                load: seen.hello?.loadAverage.first, snapshots: seen.hello?.snapshots.sorted() ?? [],
                lastError: seen.lastError, lastAnswer: seen.lastAnswer)
        }
        if includesLocal {
            statuses.insert(
                HostStatus(
                    name: Placement.localHost, pools: [pool], reachable: true, vms: try? await local.ownedVMs().count,
                    memAvailableBytes: HostLoad.memAvailableBytes(),
                    cores: ProcessInfo.processInfo.activeProcessorCount,
                    load: HostLoad.loadAverage().first, snapshots: await local.snapshots().map(\.id).sorted(),
                    lastAnswer: Date()),
                at: 0)
        }
        return statuses
    }

    /// How long `hostStatuses()` waits for each host.
    static let statusDeadline: Duration = .seconds(3)

    /// The host answered a hello: its facts stand until the next.
    func note(_ host: String, hello: HostHello) {
        sightings[host, default: Sighting()].hello = hello
        noteAnswer(host, vms: hello.vms.count)
    }

    /// The host answered a request.
    func noteAnswer(_ host: String, vms: Int) {
        sightings[host, default: Sighting()].vms = vms
        sightings[host, default: Sighting()].lastAnswer = Date()
        Gauge(label: "flock_host_up", dimensions: [("pool", pool), ("host", host)]).record(1)
    }

    /// A request to the host failed while `doing` something. A refusal is an answer: the host
    /// is up; a dropped session, a timeout or garbage is not.
    func noteFailure(_ host: String, _ doing: String, _ error: HostError) {
        sightings[host, default: Sighting()].lastError = "\(doing): \(error.message)"
        let answered = error.code == .remote
        Gauge(label: "flock_host_up", dimensions: [("pool", pool), ("host", host)]).record(answered ? 1 : 0)
    }

    /// A snapshot shipped to `host` (one it already held moved next to nothing, and is not counted).
    func recordTransfer(_ transfer: RemoteHost.Transfer, to host: String) {
        guard transfer.shipped else { return }
        Counter(label: "flock_snapshot_transfer_bytes_total", dimensions: [("pool", pool), ("host", host)])
            .increment(by: transfer.bytes)
        Timer(
            label: "flock_snapshot_transfer_seconds", dimensions: [("pool", pool), ("host", host)],
            preferredDisplayUnit: .seconds
        ).recordSeconds(transfer.seconds)
    }
}
