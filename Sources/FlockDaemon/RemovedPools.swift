import FlockCore
import FlockStore
import Foundation
import Logging

/// Pools the store remembers but the config no longer names: their clones would otherwise run
/// and take traffic with no controller, for ever and unnoticed.
///
/// At start-up each one is reported (log and event) with what it still has; with
/// `removed_pools: reclaim` its servers are drained and removed, its clones destroyed (a VM only
/// once its server is gone), and its instances marked gone. Only names Flock owns for that pool
/// are touched, on the drivers this flockd has open.
struct RemovedPools {
    let store: FlockStore
    let hypervisors: [any Hypervisor]
    let balancers: [any Balancer]
    let logger: Logger
    /// The removed pool's policy no longer runs, so its drain timeout is not at hand: a short,
    /// fixed drain lets requests in flight finish.
    static let drainTimeout: Duration = .seconds(10)

    /// What one removed pool still has, kept per driver so that reclaiming acts on exactly what
    /// was surveyed (and reported) instead of listing every driver again.
    struct Leftovers: Sendable, Hashable {
        var pool: String
        var instances: [String]
        /// Per hypervisor, in the order of `RemovedPools.hypervisors`.
        var vmsByHypervisor: [[String]]
        /// Per balancer, in the order of `RemovedPools.balancers`.
        var serversByBalancer: [[String]]
        var backend: String
        var vms: [String] { vmsByHypervisor.flatMap { $0 }.sorted() }
        /// `backend/server`.
        var servers: [String] { serversByBalancer.flatMap { $0 }.map { "\(backend)/\($0)" }.sorted() }
        var isEmpty: Bool { instances.isEmpty && vms.isEmpty && servers.isEmpty }
    }

    /// Reports, and with `.reclaim` reclaims, every pool in the store that `configured` lacks.
    @discardableResult
    func handle(configured: Set<String>, mode: DaemonConfig.RemovedPools) async throws -> [Leftovers] {
        var found: [Leftovers] = []
        for pool in try store.pools() where !configured.contains(pool.name) {
            let leftovers = try await survey(pool)
            guard !leftovers.isEmpty else { continue }
            found.append(leftovers)
            let what =
                "\(leftovers.instances.count) instance(s) in the store, VMs [\(leftovers.vms.joined(separator: ", "))], "
                + "servers [\(leftovers.servers.joined(separator: ", "))]"
            switch mode {
            case .report:
                let message =
                    "pool '\(pool.name)' is not in the config but still has \(what); add it back, or set "
                    + "'removed_pools: reclaim' in flockd.yaml to remove them"
                logger.warning("\(message)")
                _ = try? store.record(Event(time: Date(), pool: pool.name, kind: .failure, message: message))
            case .reclaim:
                await reclaim(leftovers)
                let message = "pool '\(pool.name)' is not in the config: reclaimed \(what)"
                logger.notice("\(message)")
                _ = try? store.record(Event(time: Date(), pool: pool.name, kind: .instance, message: message))
            }
        }
        return found
    }

    private func survey(_ pool: Pool) async throws -> Leftovers {
        let instances = try store.instances(pool: pool.name).filter { $0.role == .clone }.map(\.name)
        var vms: [[String]] = []
        for hypervisor in hypervisors {
            vms.append(try await hypervisor.ownedVMs().map(\.name).filter { OwnedName.isOwned($0, pool: pool.name) })
        }
        var servers: [[String]] = []
        for balancer in balancers {
            // A backend this balancer does not have holds nothing of the pool.
            let listed = (try? await balancer.servers(backend: pool.backend)) ?? []
            servers.append(listed.map(\.name).filter { OwnedName.isOwned($0, pool: pool.name) })
        }
        return Leftovers(
            pool: pool.name, instances: instances, vmsByHypervisor: vms, serversByBalancer: servers,
            backend: pool.backend)
    }

    /// Servers first, so that no VM is destroyed while a balancer may still route to it.
    private func reclaim(_ leftovers: Leftovers) async {
        let backend = leftovers.backend
        var stillRouted: Set<String> = []
        for (balancer, servers) in zip(balancers, leftovers.serversByBalancer) {
            for server in servers {
                _ = try? await balancer.drain(backend: backend, server: server, timeout: Self.drainTimeout)
                do {
                    try await balancer.remove(backend: backend, server: server)
                } catch {
                    stillRouted.insert(server)
                    logger.error("could not remove \(backend)/\(server) of removed pool: \(error)")
                }
            }
        }
        for (hypervisor, vms) in zip(hypervisors, leftovers.vmsByHypervisor) {
            for vm in vms where !stillRouted.contains(vm) {
                do {
                    try await hypervisor.destroy(name: vm)
                } catch {
                    stillRouted.insert(vm)
                    logger.error("could not destroy VM \(vm) of removed pool: \(error)")
                }
            }
        }
        for name in leftovers.instances where !stillRouted.contains(name) {
            let state = (try? store.instance(named: name))?.state
            if state != .failed && state != .stopping {
                _ = try? store.transition(instance: name, to: .failed, at: Date(), note: "its pool was removed")
            }
            _ = try? store.transition(instance: name, to: .gone, at: Date(), note: "reclaimed: its pool was removed")
        }
    }
}
