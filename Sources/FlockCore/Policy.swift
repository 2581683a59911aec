/// A pool's validated scaling policy: what to watch, how to decide, and how fast to act.
///
/// A `Policy` only exists in a valid state: `FlockPolicy` builds it from YAML after checking
/// every field, so the engine never re-validates and never meets a negative count.
public struct Policy: Sendable, Hashable {
    public var pool: String
    /// The warm, running VM that clones are forked from. It serves too and counts toward capacity.
    public var parent: String
    public var balancer: BalancerTarget
    public var capacity: Capacity
    public var evaluationInterval: Duration
    public var checks: [Check]
    public var scaleOut: ScaleOut
    public var scaleIn: ScaleIn
    public var cloneMode: CloneMode
    /// Compute and record decisions, but change nothing and start no cooldown.
    public var dryRun: Bool
    /// Forecast the demand behind one target-value check from the pool's own history.
    public var predictive: Predictive?
    /// Paused clones kept ready to activate first on scale-out.
    public var standby: Standby?

    public init(
        pool: String, parent: String, balancer: BalancerTarget, capacity: Capacity,
        evaluationInterval: Duration = Policy.defaultEvaluationInterval, checks: [Check],
        scaleOut: ScaleOut = ScaleOut(), scaleIn: ScaleIn = ScaleIn(), cloneMode: CloneMode = .lazy,
        dryRun: Bool = false, predictive: Predictive? = nil, standby: Standby? = nil
    ) {
        self.pool = pool
        self.parent = parent
        self.balancer = balancer
        self.capacity = capacity
        self.evaluationInterval = evaluationInterval
        self.checks = checks
        self.scaleOut = scaleOut
        self.scaleIn = scaleIn
        self.cloneMode = cloneMode
        self.dryRun = dryRun
        self.predictive = predictive
        self.standby = standby
    }

    public static let defaultEvaluationInterval: Duration = .seconds(5)

    /// The largest instance count or step a policy may name. Far above any real pool, it keeps
    /// count arithmetic well away from overflow whatever a policy or a metric says.
    public static let countLimit = 100_000

    /// The largest percentage step (`add_percent`, `remove_percent`).
    public static let percentLimit = 1_000.0

    /// Samples older than this are stale: the check that needs them holds instead of guessing.
    public var staleAfter: Duration { evaluationInterval * 2 }

    /// Where the pool's servers live on the load balancer.
    public struct BalancerTarget: Sendable, Hashable {
        /// The balancer's backend (HAProxy's term) that clones are added to.
        public var backend: String
        /// The port the app listens on inside each VM.
        public var port: Int
        /// How the balancer treats each server of the pool (health-check pacing, limits).
        public var server: ServerOptions
        public init(backend: String, port: Int, server: ServerOptions = ServerOptions()) {
            self.backend = backend
            self.port = port
            self.server = server
        }
    }

    /// Bounds on the number of serving instances, the parent included.
    public struct Capacity: Sendable, Hashable {
        public var min: Int
        public var max: Int
        public init(min: Int, max: Int) {
            self.min = min
            self.max = max
        }
        public func clamp(_ n: Int) -> Int { Swift.min(Swift.max(n, min), max) }
    }

    public struct ScaleOut: Sendable, Hashable {
        /// No scale-out within this long of the last scale-out.
        public var cooldown: Duration
        /// At most this many instances are added by one decision.
        public var maxStep: Int
        public init(cooldown: Duration = .seconds(30), maxStep: Int = 4) {
            self.cooldown = cooldown
            self.maxStep = maxStep
        }
    }

    public struct ScaleIn: Sendable, Hashable {
        /// No scale-in within this long of any action.
        public var cooldown: Duration
        /// Scale in only to the highest count recommended during this window (as Kubernetes' HPA).
        public var stabilization: Duration
        /// At most this many instances are removed by one decision.
        public var maxStep: Int
        /// How long a draining server may keep sessions before it is removed anyway.
        public var drainTimeout: Duration
        public init(
            cooldown: Duration = .seconds(120), stabilization: Duration = .seconds(300), maxStep: Int = 1,
            drainTimeout: Duration = .seconds(30)
        ) {
            self.cooldown = cooldown
            self.stabilization = stabilization
            self.maxStep = maxStep
            self.drainTimeout = drainTimeout
        }
    }
}

/// How a clone gets the parent's memory.
public enum CloneMode: String, CaseIterable, Sendable, Codable {
    /// Copy-on-write from a frozen snapshot of the parent; pages load on first touch.
    case lazy
    /// A full copy of the parent's memory before the clone starts.
    case eager
    /// No cloning: boot a fresh VM from the image (the baseline, with cold caches).
    case cold
}
