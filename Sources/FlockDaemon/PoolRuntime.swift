import FlockController
import FlockCore
import FlockStore
import Foundation
import Synchronization

/// One pool as the running daemon holds it: its controller, the policy version in force, and
/// what the loop, the policy watcher and the HTTP API share about it.
///
/// The controller keeps its policy private; the daemon keeps its own copy here because the loop
/// needs the evaluation interval and the API reports the version actually running (which can lag
/// the store's current version by one poll, or stay behind when a stored version is rejected).
public final class PoolRuntime: Sendable {
    public let name: String
    public let controller: PoolController
    public let store: FlockStore
    /// The pool's metrics source, wrapped to report staleness.
    public let metrics: StalenessTrackingSource
    /// The parent the config names, which every reloaded policy must keep.
    public let configuredParent: String?
    /// The pool's balancer, which checks a backend before a reloaded policy moves the pool to it.
    public let balancer: any Balancer
    /// The pool's hypervisor when it places clones on other hosts, for `/v1/hosts`.
    public let hosts: (any HostReporting)?
    let state: Mutex<State>

    struct State {
        var policy: Policy
        var version: Int?
        /// A stored version that failed to load, so it is reported once, not every poll.
        var rejectedVersion: Int?
        var lastTick: Date?
        var lastDecision: Decision?
        var recovered = false
    }

    /// - Parameter drivers: the pool's drivers; the metrics source is wrapped for staleness here.
    public init(
        policy: Policy, version: Int?, store: FlockStore, drivers: PoolController.Drivers,
        configuredParent: String? = nil, settings: PoolController.Settings = .init(), clock: PoolClock = .steady()
    ) {
        self.name = policy.pool
        self.store = store
        let metrics = StalenessTrackingSource(drivers.metrics)
        self.metrics = metrics
        var wrapped = drivers
        wrapped.metrics = metrics
        self.controller = PoolController(
            policy: policy, version: version, store: store, drivers: wrapped, settings: settings, clock: clock)
        self.configuredParent = configuredParent
        self.balancer = drivers.balancer
        self.hosts = drivers.hypervisor as? any HostReporting
        self.state = Mutex(State(policy: policy, version: version))
    }

    /// The policy the controller runs, and its store version.
    public var policy: (policy: Policy, version: Int?) {
        state.withLock { ($0.policy, $0.version) }
    }

    /// When the last tick finished and what it decided, for the API.
    public var lastTick: (time: Date?, decision: Decision?) {
        state.withLock { ($0.lastTick, $0.lastDecision) }
    }

    /// True once `recover()` has succeeded and ticks run.
    public var isRecovered: Bool { state.withLock { $0.recovered } }
}
