import FlockController
import FlockCore
import FlockPolicy
import FlockStore
import FlockSystem
import Foundation
import Logging
import ServiceLifecycle

/// The daemon, assembled: the store, one runtime per pool, and the services that run them.
///
/// `prepare` does everything that can fail before anything runs, so flockd either refuses to
/// start with a clear message (exit 1) or starts whole: it takes the store's lock, opens the store,
/// settles each pool's policy, opens the drivers the config names through their kinds' factories, and checks every
/// pool's balancer backend (`Balancer.check(backend:)`). `run` then runs the services until SIGTERM or SIGINT and returns after a
/// graceful shutdown.
public struct Daemon: Sendable {
    public let config: DaemonConfig
    public let store: FlockStore
    public let pools: [PoolRuntime]
    /// Held for the daemon's life: a second flockd on the same store refuses to start instead of
    /// acting on every decision alongside this one.
    let storeLock: ExclusiveLock
    let logger: Logger

    /// Opens and checks everything the config names.
    public static func prepare(
        config: DaemonConfig, kinds: DriverKinds, logger: Logger
    ) async throws(DaemonError) -> Daemon {
        // First, before the store or any driver is touched: a second daemon must not recover (and
        // so undo) the first one's work in flight.
        let storeLock = try lockStore(config.store.path)
        let store: FlockStore
        do {
            store = try FlockStore(
                path: config.store.path, sampleRetention: config.store.sampleRetention,
                historyRetention: config.store.historyRetention)
        } catch {
            throw .startup("cannot open the store: \(error)")
        }
        var policies: [(DaemonConfig.PoolConfig, Policy, Int?)] = []
        var problems: [PolicyDiagnostic] = []
        for pool in config.pools {
            switch Result(catching: { () throws(DaemonStartupProblem) in try resolvePolicy(pool, store: store) }) {
            case .success(let (policy, version)): policies.append((pool, policy, version))
            case .failure(let problem): problems += problem.diagnostics
            }
        }
        guard problems.isEmpty else { throw .invalidConfig(problems) }

        let hypervisors = try await open(
            "hypervisor", Set(config.pools.map(\.hypervisor)), in: config.hypervisors
        ) { section in
            try await kinds.hypervisors.first { $0.kind == section.kind }?.open(section.settings, logger: logger)
        }
        let balancers = try await open("balancer", Set(config.pools.map(\.balancer)), in: config.balancers) {
            section in
            try await kinds.balancers.first { $0.kind == section.kind }?.open(section.settings, logger: logger)
        }

        var runtimes: [PoolRuntime] = []
        for (pool, policy, version) in policies {
            guard let section = config.balancers[pool.balancer], let balancer = balancers[pool.balancer],
                let hypervisor = hypervisors[pool.hypervisor]
            else { throw .startup("pool '\(pool.name)': its balancer or hypervisor is not configured") }
            let backend = policy.balancer.backend
            do {
                let report = try await balancer.check(backend: backend)
                var metadata: Logger.Metadata = [
                    "pool": "\(pool.name)", "balancer": "\(section.name)", "backend": "\(report.backend)",
                    "servers": "\(report.servers)",
                ]
                for (key, value) in report.details { metadata[key] = "\(value)" }
                logger.info("backend checked", metadata: metadata)
            } catch {
                throw .startup(
                    "pool '\(pool.name)': backend '\(backend)' on balancer '\(section.name)' (\(section.kind)) cannot be used: \(error)"
                )
            }
            guard let factory = kinds.metrics.first(where: { $0.kind == pool.metrics.kind }) else {
                throw .startup("pool '\(pool.name)': metrics kind '\(pool.metrics.kind)' has no driver in this flockd")
            }
            let metrics: any MetricsSource
            do {
                metrics = try await factory.open(pool.metrics.settings, balancer: section, logger: logger)
            } catch {
                throw .startup(
                    "pool '\(pool.name)': its metrics source (\(pool.metrics.kind)) cannot be opened: \(error)")
            }
            let placed = try await place(pool, on: hypervisor, config: config, kinds: kinds, logger: logger)
            let drivers = PoolController.Drivers(metrics: metrics, balancer: balancer, hypervisor: placed)
            runtimes.append(
                PoolRuntime(
                    policy: policy, version: version, store: store, drivers: drivers, configuredParent: pool.parent))
        }
        do {
            try await RemovedPools(
                store: store, hypervisors: Array(hypervisors.values), balancers: Array(balancers.values), logger: logger
            ).handle(configured: Set(config.pools.map(\.name)), mode: config.removedPools)
        } catch {
            throw .startup("cannot check for pools removed from the config: \(error)")
        }
        return Daemon(config: config, store: store, pools: runtimes, storeLock: storeLock, logger: logger)
    }

    /// The pool's hypervisor, wrapped to place clones on other hosts when it has `placement:`.
    static func place(
        _ pool: DaemonConfig.PoolConfig, on hypervisor: any Hypervisor, config: DaemonConfig, kinds: DriverKinds,
        logger: Logger
    ) async throws(DaemonError) -> any Hypervisor {
        guard let placement = pool.placement else { return hypervisor }
        guard let factory = kinds.placement else {
            throw .startup("pool '\(pool.name)': this flockd was built without multi-host placement")
        }
        do {
            return try await factory.place(
                hypervisor, pool: pool.name, placement: placement,
                hosts: placement.hosts.compactMap { config.hosts[$0] },
                logDirectory: (config.store.path as NSString).deletingLastPathComponent, logger: logger)
        } catch {
            throw .startup("pool '\(pool.name)': its placement cannot be used: \(error)")
        }
    }

    /// Takes the lock beside the store without waiting; a held lock names its file and holder.
    static func lockStore(_ path: String) throws(DaemonError) -> ExclusiveLock {
        let lockPath = FlockStore.lockPath(for: path)
        do {
            try FlockStore.prepareDirectory(for: path)
            return try ExclusiveLock(path: lockPath)
        } catch let failure as ExclusiveLock.Failure {
            throw .startup("the store \(path) is in use: \(failure)")
        } catch {
            throw .startup("cannot lock the store \(path): \(error)")
        }
    }

    /// Opens the drivers the pools use, in name order; nil from `open` means no factory has the
    /// section's kind. Sections no pool uses are left closed.
    static func open<Driver>(
        _ what: String, _ names: Set<String>, in sections: [String: DaemonConfig.DriverConfig],
        _ open: (DaemonConfig.DriverConfig) async throws -> Driver?
    ) async throws(DaemonError) -> [String: Driver] {
        var drivers: [String: Driver] = [:]
        for name in names.sorted() {
            guard let section = sections[name] else { throw .startup("\(what) '\(name)' is not configured") }
            let driver: Driver?
            do {
                driver = try await open(section)
            } catch {
                throw .startup("\(what) '\(name)' (\(section.kind)) cannot be opened: \(error)")
            }
            guard let driver else { throw .startup("\(what) '\(name)' has no driver in this flockd") }
            drivers[name] = driver
        }
        return drivers
    }

    /// The services in start order. A service group stops them in reverse order, so on shutdown
    /// the pools settle first, then the policy watcher stops, and the HTTP API (still answering
    /// `/healthz` and `/metrics` while pools settle) stops last.
    public func services(
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let api = APIServer(store: store, pools: pools, token: config.apiToken)
            .application(listen: config.listen, logger: logger, onServerRunning: onServerRunning)
        let watcher = PolicyWatcher(pools: pools, store: store, interval: config.policyPollInterval, logger: logger)
        // A service that ends on its own ends the daemon: the group shuts the rest down gracefully.
        return [
            .init(
                service: api, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "http"),
            .init(
                service: watcher, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "policy-watcher"),
        ]
            + pools.map {
                .init(
                    service: PoolService(runtime: $0, logger: logger),
                    successTerminationBehavior: .gracefullyShutdownGroup,
                    failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: "pool-\($0.name)")
            }
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully and returns.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        if !config.listen.isLoopback {
            logger.warning(
                "the API listens beyond loopback; anyone who can reach it can read pool status",
                metadata: ["listen": "\(config.listen)"])
        }
        logger.info(
            "flockd starting",
            metadata: [
                "listen": "\(config.listen)", "store": "\(store.path)",
                "pools": "\(pools.map(\.name).joined(separator: ","))",
            ])
        let group = ServiceGroup(
            configuration: .init(
                services: services(onServerRunning: onServerRunning), gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("flockd stopped")
    }

    /// The policy a pool starts with: its file (stored as a new version if its text is new), or
    /// the store's current version.
    static func resolvePolicy(
        _ pool: DaemonConfig.PoolConfig, store: FlockStore
    ) throws(DaemonStartupProblem) -> (Policy, Int?) {
        switch pool.policy {
        case .file(let document):
            do {
                let change = PolicyChange(
                    pool: pool.name, backend: document.policy.balancer.backend, source: document.source,
                    checksum: document.checksum, note: "from \(document.file) at flockd start-up")
                try store.applyPolicies([change], by: "flockd", at: Date())
                return (document.policy, try store.currentPolicy(pool: pool.name)?.version)
            } catch {
                throw DaemonStartupProblem([
                    pool.policyLocation.diagnostic("pools.\(pool.name).policy: cannot store \(document.file): \(error)")
                ])
            }
        case .stored:
            let stored: PolicyVersion?
            do {
                stored = try store.currentPolicy(pool: pool.name)
            } catch {
                throw DaemonStartupProblem([pool.policyLocation.diagnostic("cannot read the store: \(error)")])
            }
            guard let stored else {
                throw DaemonStartupProblem([
                    pool.policyLocation.diagnostic(
                        "pools.\(pool.name).policy: the store \(store.path) has no policy for pool '\(pool.name)'",
                        hint: "store one with 'flockctl policy apply FILE', or name the file here")
                ])
            }
            let document: PolicyDocument
            do {
                document = try PolicyDocument(
                    source: stored.source, file: "\(pool.name) policy version \(stored.version)")
            } catch {
                throw DaemonStartupProblem(
                    [
                        pool.policyLocation.diagnostic(
                            "pools.\(pool.name).policy: the stored version \(stored.version) is not valid")
                    ]
                        + error.diagnostics)
            }
            if let parent = pool.parent, parent != document.policy.parent {
                throw DaemonStartupProblem([
                    (pool.parentLocation ?? pool.location).diagnostic(
                        "pools.\(pool.name).parent is '\(parent)' but stored policy version \(stored.version) names '\(document.policy.parent)'"
                    )
                ])
            }
            return (document.policy, stored.version)
        }
    }
}

/// Located problems found at start-up rather than by the parser.
struct DaemonStartupProblem: Error {
    var diagnostics: [PolicyDiagnostic]
    init(_ diagnostics: [PolicyDiagnostic]) { self.diagnostics = diagnostics }
}
