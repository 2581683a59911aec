import FlockController
import FlockCore
import FlockHAProxy
import FlockPolicy
import FlockStore
import Foundation
import Logging
import ServiceLifecycle

/// The daemon, assembled: the store, one runtime per pool, and the services that run them.
///
/// `prepare` does everything that can fail before anything runs, so flockd either refuses to
/// start with a clear message (exit 1) or starts whole: it opens the store, settles each pool's
/// policy, checks every pool's balancer backend (HAProxy's `checkBackend`) and opens the
/// hypervisors. `run` then runs the services until SIGTERM or SIGINT and returns after a
/// graceful shutdown.
public struct Daemon: Sendable {
    public let config: DaemonConfig
    public let store: FlockStore
    public let pools: [PoolRuntime]
    let logger: Logger

    /// Opens and checks everything the config names.
    public static func prepare(
        config: DaemonConfig, factories: [any HypervisorFactory], logger: Logger
    ) async throws(DaemonError) -> Daemon {
        let store: FlockStore
        do {
            store = try FlockStore(path: config.store.path, sampleRetention: config.store.sampleRetention)
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

        var hypervisors: [String: any Hypervisor] = [:]
        for name in Set(config.pools.map(\.hypervisor)).sorted() {
            guard let hypervisor = config.hypervisors[name],
                let factory = factories.first(where: { $0.kind == hypervisor.kind })
            else { throw .startup("hypervisor '\(name)' has no driver in this flockd") }
            do {
                hypervisors[name] = try await factory.open(hypervisor.settings, logger: logger)
            } catch {
                throw .startup("hypervisor '\(name)' (\(hypervisor.kind)) cannot be opened: \(error)")
            }
        }

        var runtimes: [PoolRuntime] = []
        for (pool, policy, version) in policies {
            guard let balancerConfig = config.balancers[pool.balancer], let hypervisor = hypervisors[pool.hypervisor]
            else { throw .startup("pool '\(pool.name)': its balancer or hypervisor is not configured") }
            let endpoint: RuntimeEndpoint
            do {
                endpoint = try RuntimeEndpoint(parsing: balancerConfig.socket)
            } catch {
                throw .startup("balancer '\(balancerConfig.name)': \(error)")
            }
            let client = RuntimeClient(endpoint: endpoint, timeout: balancerConfig.timeout)
            let balancer = HAProxyBalancer(client: client, healthTimeout: balancerConfig.healthTimeout)
            let check: @Sendable (String) async throws -> Void = { backend in
                _ = try await balancer.checkBackend(backend)
            }
            do {
                let report = try await balancer.checkBackend(policy.balancer.backend)
                logger.info(
                    "backend checked",
                    metadata: [
                        "pool": "\(pool.name)", "balancer": "\(balancerConfig.name)", "socket": "\(endpoint)",
                        "backend": "\(report.backend)", "algorithm": "\(report.algorithm ?? "?")",
                        "servers": "\(report.servers)",
                    ])
            } catch {
                throw .startup(
                    "pool '\(pool.name)': HAProxy backend '\(policy.balancer.backend)' on balancer '\(balancerConfig.name)' (\(endpoint)) cannot be used: \(error)"
                )
            }
            let drivers = PoolController.Drivers(
                metrics: HAProxyMetricsSource(client: client), balancer: balancer, hypervisor: hypervisor)
            runtimes.append(
                PoolRuntime(
                    policy: policy, version: version, store: store, drivers: drivers, configuredParent: pool.parent,
                    checkBackend: check))
        }
        return Daemon(config: config, store: store, pools: runtimes, logger: logger)
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
