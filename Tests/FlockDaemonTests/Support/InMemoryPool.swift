import FlockController
import FlockCore
import FlockDaemon
import FlockPolicy
import FlockStore
import FlockTestSupport
import FlockTesting
import Foundation
import Logging
import Testing

@testable import flockd

/// A pool wired to FlockTesting's in-memory drivers and a real store in a scratch directory,
/// with the runtime the daemon would build for it.
final class InMemoryPool: @unchecked Sendable {
    let scratch: Scratch
    let store: FlockStore
    let metrics = InMemoryMetricsSource(clock: Date.init)
    let balancer = InMemoryBalancer(backends: ["app"])
    let hypervisor = InMemoryHypervisor(parents: ["web-parent": "web"])
    let runtime: PoolRuntime

    /// A web pool that targets 10 sessions per server and evaluates every 100 ms.
    static func policy(interval: Duration = .milliseconds(100), max: Int = 6) -> Policy {
        Policy(
            pool: "web", parent: "web-parent", balancer: .init(backend: "app", port: 8080),
            capacity: .init(min: 1, max: max), evaluationInterval: interval,
            checks: [
                Check(
                    name: "load", metric: .sessionsPerServer, window: .seconds(1), aggregate: .last,
                    rule: .targetValue(.init(target: 10)))
            ],
            scaleOut: .init(cooldown: .milliseconds(100), maxStep: 4),
            scaleIn: .init(cooldown: .seconds(600), stabilization: .seconds(600), maxStep: 1, drainTimeout: .seconds(1))
        )
    }

    /// - Parameters:
    ///   - hosts: when given, the pool's hypervisor reports these as its hosts, as a pool with
    ///     `placement:` does;
    ///   - homes: the host it says each VM runs on.
    init(policy: Policy = InMemoryPool.policy(), hosts: [HostStatus]? = nil, homes: [String: String] = [:]) throws {
        scratch = try Scratch()
        store = try FlockStore(path: scratch.path("flock.db"))
        // The pool row exists once a policy was applied; pause and manual counts live on it.
        let text = try String(contentsOfFile: Repo.path("Policies/web.yaml"), encoding: .utf8)
        try store.applyPolicies(
            [PolicyChange(pool: "web", backend: "app", source: text, checksum: PolicyDocument.checksum(of: text))],
            by: "test", at: Date())
        let hypervisor = self.hypervisor
        runtime = PoolRuntime(
            policy: policy, version: 1, store: store,
            drivers: .init(
                metrics: metrics, balancer: balancer,
                hypervisor: hosts.map { ReportingHypervisor(base: hypervisor, statuses: $0, homes: homes) }
                    ?? hypervisor))
    }

    func setLoad(_ sessionsPerServer: Double?) {
        metrics.set(.sessionsPerServer, sessionsPerServer.map { .value($0) } ?? .error("source down"), backend: "app")
    }

    func clones(_ state: InstanceState? = nil) throws -> [Instance] {
        try store.instances(pool: "web", includeGone: true).filter {
            $0.role == .clone && (state == nil || $0.state == state)
        }
    }

    func decisionCount() throws -> Int {
        try store.decisions(pool: "web", since: .distantPast).count
    }
}

/// An in-memory hypervisor that reports fixed host statuses, standing for a placing one.
struct ReportingHypervisor: Hypervisor, HostReporting {
    let base: InMemoryHypervisor
    let statuses: [HostStatus]
    var homes: [String: String] = [:]

    func clone(_ request: CloneRequest) async throws -> CloneBatch { try await base.clone(request) }
    func activate(name: String) async throws -> VMInfo { try await base.activate(name: name) }
    func destroy(name: String) async throws { try await base.destroy(name: name) }
    func ownedVMs() async throws -> [VMInfo] { try await base.ownedVMs() }
    func resumeParent(name: String) async throws -> String? { try await base.resumeParent(name: name) }
    func hostStatuses() async -> [HostStatus] { statuses }
    func vmHomes() async -> [String: String] { homes }
}

/// Log lines captured in memory, to assert what the daemon said.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    var sink: LogSink { LogSink { [self] line in lock.withLock { text += line } } }
    var contents: String { lock.withLock { text } }

    func logger(format: DaemonConfig.LogSettings.Format = .text, level: Logger.Level = .info) -> Logger {
        let sink = self.sink
        return Logger(label: "flockd-test") { label in
            DaemonLogHandler(label: label, format: format, level: level, sink: sink)
        }
    }
}

extension DriverKinds {
    /// flockd's own balancer and metrics kinds, with `kind: memory` as the only hypervisor, so that
    /// configs in tests name real HAProxy settings and boot no VM.
    static let test = DriverKinds(
        hypervisors: [MemoryHypervisorFactory()], balancers: Flockd.kinds.balancers, metrics: Flockd.kinds.metrics)
}

/// The diagnostics of a config that must fail to load.
func configErrors(
    _ path: String, environment: [String: String] = [:], kinds: DriverKinds = .test
) -> [PolicyDiagnostic] {
    do {
        _ = try DaemonConfigParser.load(path: path, environment: environment, kinds: kinds)
        Issue.record("\(path) was accepted")
        return []
    } catch {
        return error.diagnostics
    }
}

/// `kind: memory`: in-memory VMs, so config tests have a hypervisor kind besides the executable's.
struct MemoryHypervisorFactory: HypervisorFactory {
    let kind = "memory"
    let settingKeys = ["parent", "boot_delay"]

    func validate(_ settings: DriverSettings) -> [PolicyDiagnostic] {
        if case .failure(let list) = settings.duration("boot_delay") { return list.diagnostics }
        return []
    }

    func open(_ settings: DriverSettings, logger: Logger) async throws -> any Hypervisor {
        InMemoryHypervisor(parents: [settings["parent"] ?? "web-parent": "web"])
    }
}
