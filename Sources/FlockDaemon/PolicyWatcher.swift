import FlockCore
import FlockPolicy
import FlockStore
import Foundation
import Logging
import ServiceLifecycle

/// Picks up policy versions stored by `flockctl policy apply` or `rollback` and hands them to
/// the running pools, without a restart.
///
/// The store is the only channel between the CLI and the daemon (no signal, no socket), so the
/// watcher polls it; a version that does not parse, names another parent than the config, or
/// moves the pool to a backend that cannot take servers is refused with an event, and the pool
/// keeps the version it runs.
public struct PolicyWatcher: Service {
    let pools: [PoolRuntime]
    let store: FlockStore
    let interval: Duration
    let logger: Logger
    let now: @Sendable () -> Date

    public init(
        pools: [PoolRuntime], store: FlockStore, interval: Duration, logger: Logger,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.pools = pools
        self.store = store
        self.interval = interval
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await checkOnce()
            let interval = interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// Looks once at every pool's current stored version; returns the pools that changed policy.
    @discardableResult
    public func checkOnce() async -> [String] {
        var reloaded: [String] = []
        for pool in pools where await check(pool) { reloaded.append(pool.name) }
        return reloaded
    }

    private func check(_ pool: PoolRuntime) async -> Bool {
        let stored: PolicyVersion?
        do {
            stored = try store.currentPolicy(pool: pool.name)
        } catch {
            logger.warning("cannot read the store for policy changes", metadata: ["error": "\(error)"])
            return false
        }
        let (running, runningVersion) = pool.policy
        let rejected = pool.state.withLock { $0.rejectedVersion }
        guard let stored, stored.version != runningVersion, stored.version != rejected else { return false }

        let label = "\(pool.name) policy version \(stored.version)"
        do {
            let document = try PolicyDocument(source: stored.source, file: label)
            let policy = document.policy
            if let parent = pool.configuredParent, parent != policy.parent {
                throw DaemonError.startup(
                    "it names parent '\(policy.parent)' but flockd's config pins the pool to '\(parent)'")
            }
            if policy.balancer.backend != running.balancer.backend {
                do {
                    _ = try await pool.balancer.check(backend: policy.balancer.backend)
                } catch {
                    throw DaemonError.startup("its backend '\(policy.balancer.backend)' cannot be used: \(error)")
                }
            }
            await pool.controller.reloadPolicy(policy, version: stored.version)
            pool.state.withLock {
                $0.policy = policy
                $0.version = stored.version
                $0.rejectedVersion = nil
            }
            let was = runningVersion.map { "version \($0)" } ?? "no stored version"
            note(pool, .policyApplied, "flockd now runs policy version \(stored.version) (was \(was))")
            logger.info("policy reloaded", metadata: ["pool": "\(pool.name)", "version": "\(stored.version)"])
            return true
        } catch {
            pool.state.withLock { $0.rejectedVersion = stored.version }
            let reason = (error as? DaemonError)?.message ?? "\(error)"
            note(pool, .failure, "policy version \(stored.version) not loaded, keeping the running one: \(reason)")
            logger.error(
                "stored policy refused",
                metadata: ["pool": "\(pool.name)", "version": "\(stored.version)", "error": "\(reason)"])
            return false
        }
    }

    private func note(_ pool: PoolRuntime, _ kind: Event.Kind, _ message: String) {
        _ = try? store.record(Event(time: now(), pool: pool.name, kind: kind, message: message))
    }
}
