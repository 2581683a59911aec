import FlockCore
import FlockStore
import Foundation

/// Runs one pool: each tick reads its metrics, decides, and moves its instances toward the
/// decision, journaling every side effect before and after it happens.
///
/// The loop is level-triggered, as Kubernetes controllers are: a tick compares what should be
/// (the policy's decision, or an operator's manual count) with what is (the store's instances)
/// and starts whatever closes the gap. Clones and drains run as tasks of their own, so a slow
/// drain never delays the next evaluation, and their instances count as warming or leaving
/// meanwhile. Every tick starts with a reconcile that repairs what broke meanwhile (a dead clone,
/// a paused parent, a lost server); after a crash, `recover()` makes the store, the hypervisor and
/// the balancer agree before the first tick.
public actor PoolController {
    public let pool: String
    let store: FlockStore
    let drivers: Drivers
    let settings: Settings
    let clock: PoolClock
    var now: @Sendable () -> Date { clock.now }

    /// The policy in force and the store version it came from.
    private(set) var policy: Policy
    private(set) var policyVersion: Int?
    var history = DecisionHistory()
    var samples: [MetricSample] = []
    /// The predictive check's demand, as one-minute means over a season (`PoolController+Forecast`).
    var demand = DemandHistory()
    /// Recent decision-to-serving times in seconds, for the predictive block's default lead.
    var serveTimes: [Double] = []
    var servingSince: Date?
    var lastServing: Int?
    /// Tasks that are cloning, registering or draining, by instance name.
    var inFlight: [String: Task<Void, Never>] = [:]
    /// When each idle standby was restored and frozen, as the hypervisor last reported it.
    var standbyTimes: [String: VMInfo.Standby] = [:]
    /// Standbys being restored right now, not yet in the store.
    var restoringStandbys = 0
    /// Failed clone batches in a row, and when scale-out may be tried again.
    var cloneBackoff = Backoff()
    /// The same for standby restores, kept apart so that they never hold up a scale-out.
    var standbyBackoff = Backoff()
    /// What the reconcile last saw go wrong with the parent, so it is reported once, not per tick.
    var parentProblem: String?
    /// When the reconcile first saw each VM without a live record, and each serving clone DOWN.
    var orphanSince: [String: Date] = [:]
    var downSince: [String: Date] = [:]
    /// When a clone with a running DOWN clock was seen UP again, and the clones whose clock ran
    /// on through such a spell (see `reconcileServers`).
    var upAgainSince: [String: Date] = [:]
    var flapping: Set<String> = []
    /// Backends earlier policy versions used, until none of this pool's servers is left in them;
    /// nil until the store's policy history has been read.
    var retiredBackends: Set<String>?

    /// The drivers one pool acts through.
    public struct Drivers: Sendable {
        public var metrics: any MetricsSource
        public var balancer: any Balancer
        public var hypervisor: any Hypervisor
        public init(metrics: any MetricsSource, balancer: any Balancer, hypervisor: any Hypervisor) {
            self.metrics = metrics
            self.balancer = balancer
            self.hypervisor = hypervisor
        }
    }

    public struct Settings: Sendable {
        /// First wait after a failed clone batch; it doubles with each further failure.
        public var initialBackoff: Duration
        public var maximumBackoff: Duration
        /// Failures in a row after which an event says the pool needs attention.
        public var failureAlarm: Int
        /// How long a VM of this pool with no record in the store is left alone before it is
        /// destroyed: long enough for any step that creates one to record it.
        public var orphanGrace: Duration
        public init(
            initialBackoff: Duration = .seconds(2), maximumBackoff: Duration = .seconds(300), failureAlarm: Int = 3,
            orphanGrace: Duration = .seconds(30)
        ) {
            self.initialBackoff = initialBackoff
            self.maximumBackoff = maximumBackoff
            self.failureAlarm = failureAlarm
            self.orphanGrace = orphanGrace
        }
    }

    /// - Parameters:
    ///   - policy: the pool's policy; `reloadPolicy` picks up newer versions from the store.
    ///   - clock: monotonic by default (`PoolClock.steady()`); tests drive a manual one.
    public init(
        policy: Policy, version: Int?, store: FlockStore, drivers: Drivers, settings: Settings = Settings(),
        clock: PoolClock = .steady()
    ) {
        self.pool = policy.pool
        self.policy = policy
        self.policyVersion = version
        self.store = store
        self.drivers = drivers
        self.settings = settings
        self.clock = clock
    }

    /// Replaces the policy, e.g. after `flockctl policy apply` or a rollback stored a new version.
    /// Decision history is kept: cooldowns and stabilization carry over across policy versions.
    public func reloadPolicy(_ policy: Policy, version: Int?) {
        guard policy.pool == pool else { return }
        if policy.balancer.backend != self.policy.balancer.backend {
            retiredBackends?.insert(self.policy.balancer.backend)
            retiredBackends?.remove(policy.balancer.backend)
        }
        let oldCheck = predictiveCheck
        self.policy = policy
        policyVersion = version
        if predictiveCheck != oldCheck { try? seedDemand(at: now()) }
    }

    /// Waits for every clone, registration and drain in flight; graceful shutdown calls this so
    /// that nothing is left half-done that the journal would have to repair.
    public func settle() async {
        while let (name, task) = inFlight.first {
            await task.value
            if inFlight[name] == task { inFlight[name] = nil }
        }
    }

    /// The pool's instances as the store has them, the parent first.
    func instances() throws -> [Instance] {
        try store.instances(pool: pool)
    }

    /// Records an event, logging rather than failing when the store cannot take it.
    func event(_ kind: Event.Kind, _ message: String) {
        _ = try? store.record(Event(time: now(), pool: pool, kind: kind, message: message))
    }
}
