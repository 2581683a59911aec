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

    /// What one removed pool still has.
    struct Leftovers: Sendable, Hashable {
        var pool: String
        var instances: [String]
        var vms: [String]
        /// `backend/server`.
        var servers: [String]
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
                await reclaim(leftovers, backend: pool.backend)
                let message = "pool '\(pool.name)' is not in the config: reclaimed \(what)"
                logger.notice("\(message)")
                _ = try? store.record(Event(time: Date(), pool: pool.name, kind: .instance, message: message))
            }
        }
        return found
    }

    private func survey(_ pool: Pool) async throws -> Leftovers {
        let instances = try store.instances(pool: pool.name).filter { $0.role == .clone }.map(\.name)
        var vms: [String] = []
        for hypervisor in hypervisors {
            vms += try await hypervisor.ownedVMs().map(\.name).filter { OwnedName.isOwned($0, pool: pool.name) }
        }
        var servers: [String] = []
        for balancer in balancers {
            // A backend this balancer does not have holds nothing of the pool.
            guard let listed = try? await balancer.servers(backend: pool.backend) else { continue }
            servers += listed.map(\.name).filter { OwnedName.isOwned($0, pool: pool.name) }.map {
                "\(pool.backend)/\($0)"
            }
        }
        return Leftovers(pool: pool.name, instances: instances, vms: vms.sorted(), servers: servers.sorted())
    }

    /// Servers first, so that no VM is destroyed while a balancer may still route to it.
    private func reclaim(_ leftovers: Leftovers, backend: String) async {
        var stillRouted: Set<String> = []
        for balancer in balancers {
            guard let listed = try? await balancer.servers(backend: backend) else { continue }
            for server in listed where OwnedName.isOwned(server.name, pool: leftovers.pool) {
                _ = try? await balancer.drain(backend: backend, server: server.name, timeout: Self.drainTimeout)
                do {
                    try await balancer.remove(backend: backend, server: server.name)
                } catch {
                    stillRouted.insert(server.name)
                    logger.error("could not remove \(backend)/\(server.name) of removed pool: \(error)")
                }
            }
        }
        for hypervisor in hypervisors {
            for vm in (try? await hypervisor.ownedVMs()) ?? []
            where OwnedName.isOwned(vm.name, pool: leftovers.pool) && !stillRouted.contains(vm.name) {
                do {
                    try await hypervisor.destroy(name: vm.name)
                } catch {
                    stillRouted.insert(vm.name)
                    logger.error("could not destroy VM \(vm.name) of removed pool: \(error)")
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
